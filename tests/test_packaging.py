"""The installed server package: one import root, `metagate`, that lives beside PyPI's
`schema` (and any other generic name) whichever is installed first."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("wheel")
    # Built from a copy of what git tracks: a build in the checkout would leave build/
    # behind, and files deleted from the source could linger there and ship.
    source = tmp_path_factory.mktemp("source")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout.decode()
    for name in filter(None, tracked.split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", str(source), "-w", str(out)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [built] = out.glob("metagate-*.whl")
    yield built


def test_the_wheel_installs_one_import_root(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/", 1)[0] for name in names} == {"metagate", wheel.name.split("-py3")[0] + ".dist-info"}
    assert {"metagate/gateway/app.py", "metagate/schema/schema.graphql", "metagate/store/sqlite.py", "metagate/py.typed"} <= set(
        names
    )


def _install(venv: Path, *steps: list[str]) -> subprocess.Popen[bytes]:
    pip = f"{venv}/bin/python -m pip install --quiet --disable-pip-version-check"
    script = " && ".join([f"{sys.executable} -m venv {venv}", *(f"{pip} {' '.join(step)}" for step in steps)])
    return subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_schema_from_pypi_and_metagate_install_together_in_either_order(wheel: Path, tmp_path: Path) -> None:
    # Both orders at once: each is a fresh virtual environment installing from the registry.
    orders = {
        "schema-first": _install(tmp_path / "a", ["schema"], [str(wheel)]),
        "metagate-first": _install(tmp_path / "b", [str(wheel)], ["schema"]),
    }
    for name, process in orders.items():
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, (name, output.decode()[-2000:])
    for venv in (tmp_path / "a", tmp_path / "b"):
        # Run from a folder that holds neither project, as a user's would.
        check = subprocess.run(
            [f"{venv}/bin/python", "-c", "import schema; schema.Schema; import metagate.schema; metagate.schema.printed"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert check.returncode == 0, check.stderr
        helped = subprocess.run([f"{venv}/bin/metagate", "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert helped.returncode == 0 and "serve" in helped.stdout, helped.stderr

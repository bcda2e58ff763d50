"""A virtual environment holding metagate-client alone, on the oldest Python it supports
that this machine has: what a pipeline step that installs the client gets."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "client"


@functools.cache
def client_python() -> Path:
    """The python of a fresh virtual environment, built once per test session with the
    oldest Python >= 3.9 found, into which ``./client`` is installed (not editable).
    Skips the calling test when no such Python is found."""
    base = oldest_python()
    if base is None:
        pytest.skip("no Python 3.9 or later (python3.9, python3.10, ...) found to build the client's virtual environment")
    home = Path(tempfile.mkdtemp(prefix="metagate-client-venv-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    # Built from a copy, so that the build leaves nothing in the checkout and no stale
    # build/ of an earlier one ends up in the wheel.
    source = home / "client"
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".*_cache"))
    _run(str(base), "-m", "venv", str(home / "venv"))
    python = home / "venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    _run(str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(source))
    return python


def oldest_python() -> Path | None:
    """The oldest Python 3.9 or later on this machine that can build a virtual environment."""
    for minor in range(9, 30):
        for candidate in _candidates(f"3.{minor}"):
            if _usable(candidate):
                return candidate
    return None


def _candidates(version: str) -> Iterator[Path]:
    found = shutil.which(f"python{version}")
    if found:
        yield Path(found)
    # pyenv's shims on PATH run only the versions pyenv has selected; the others are
    # installed all the same, under its root.
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    yield from sorted(root.glob(f"versions/{version}.*/bin/python{version}"))


def _usable(python: Path) -> bool:
    check = "import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 9))"
    try:
        return subprocess.run([str(python), "-c", check], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")

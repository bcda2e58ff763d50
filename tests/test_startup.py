"""How `metagate` starts and stops on bad settings: one line naming the setting and
its fix, exit code 2, no traceback; credentials never shown; unknown METAGATE_* names
warned about; commands that only read tokens never make a store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from metagate.gateway import config
from metagate.gateway.cli import start_line
from metagate.store.factory import redact
from tests.server import free_port

PASSWORD = "s3cret-Pw"


def metagate(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("METAGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "metagate", *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def refused(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The error lines of a run that must have failed cleanly."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("METAGATE_PORT", "abc", "error: METAGATE_PORT must be a whole number, not 'abc'"),
        ("METAGATE_PORT", "70000", "error: METAGATE_PORT must be a port number from 1 to 65535, not '70000'"),
        ("METAGATE_AUTH", "maybe", "error: METAGATE_AUTH must be true or false, not 'maybe'"),
        ("METAGATE_LOG_LEVEL", "loud", "error: METAGATE_LOG_LEVEL must be one of debug, info, warning, error, not 'loud'"),
        ("METAGATE_MAX_PAGE_SIZE", "0", "error: METAGATE_MAX_PAGE_SIZE must be at least 1, not '0'"),
        ("METAGATE_DEADLINE_SECONDS", "soon", "error: METAGATE_DEADLINE_SECONDS must be a number of seconds, not 'soon'"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it_and_exit_code_2(tmp_path: Path, variable: str, value: str, expected: str) -> None:
    assert refused(metagate(tmp_path, "serve", **{variable: value})) == [expected]
    assert list(tmp_path.iterdir()) == [], "nothing is made when a setting is bad"


def test_every_bad_setting_is_reported_not_only_the_first(tmp_path: Path) -> None:
    lines = refused(metagate(tmp_path, "serve", METAGATE_PORT="abc", METAGATE_AUTH="maybe"))
    assert [line.split()[1] for line in lines] == ["METAGATE_PORT", "METAGATE_AUTH"]


def test_an_unsupported_store_url_names_the_setting_and_hides_the_password(tmp_path: Path) -> None:
    [line] = refused(metagate(tmp_path, "serve", "--store", f"postgres://admin:{PASSWORD}@db/metagate"))
    assert "--store or METAGATE_STORE" in line and "unsupported store URL scheme 'postgres'" in line
    assert "postgres://admin:***@db/metagate" in line and PASSWORD not in line


def test_a_store_in_a_missing_folder_is_an_error_and_no_folder_is_made(tmp_path: Path) -> None:
    [line] = refused(metagate(tmp_path, "serve", "--store", "missing/metagate.db"))
    assert line == (
        "error: cannot open the store missing/metagate.db (--store or METAGATE_STORE):"
        " the folder missing does not exist; create it first"
    )
    assert not (tmp_path / "missing").exists()


def test_a_port_in_use_names_every_way_to_choose_another(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        [line] = refused(metagate(tmp_path, "serve", "--port", str(port)))
    assert f"port {port} on 127.0.0.1 is in use" in line
    assert "--port" in line and "METAGATE_PORT" in line and "make serve PORT=" in line
    assert list(tmp_path.iterdir()) == [], "the port is tried before the store is opened or made"


def test_a_value_on_the_command_line_is_checked_and_wins_over_the_environment(tmp_path: Path) -> None:
    assert refused(metagate(tmp_path, "serve", "--store", " ")) == ["error: --store must not be empty, not ' '"]
    assert refused(metagate(tmp_path, "serve", "--host", "")) == ["error: --host must not be empty, not ''"]
    # A bad METAGATE_STORE is not read when --store is given; the folder check then speaks.
    [line] = refused(metagate(tmp_path, "serve", "--store", "nowhere/x.db", METAGATE_STORE=""))
    assert line.endswith("the folder nowhere does not exist; create it first")


def test_a_command_is_not_refused_for_a_setting_it_does_not_read(tmp_path: Path) -> None:
    created = metagate(tmp_path, "token", "create", "--name", "ci", "--role", "reader", METAGATE_PORT="abc")
    assert created.returncode == 0, created.stderr


def test_a_store_path_that_is_a_folder_or_not_a_database_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "notes.txt").write_text("not a database, whatever its name says" * 10)
    [folder] = refused(metagate(tmp_path, "serve", "--store", "folder"))
    [text] = refused(metagate(tmp_path, "token", "list", "--store", "notes.txt"))
    assert folder.endswith("folder is a folder, not a SQLite store file")
    assert text.endswith("file is not a database")


def test_no_auth_on_a_public_address_is_refused(tmp_path: Path) -> None:
    [line] = refused(metagate(tmp_path, "serve", "--no-auth", "--host", "0.0.0.0", "--store", ":memory:"))
    assert "without authentication" in line


def test_a_store_url_password_is_never_shown_on_start_error_or_log_paths(tmp_path: Path) -> None:
    url = f"arangodb+http://root:{PASSWORD}@127.0.0.1:{free_port()}/metagate"
    # The error path, and every log line written on the way to it (debug level).
    result = metagate(tmp_path, "serve", "--store", url, "--log-level", "debug")
    [line] = refused(result)
    shown = f"arangodb+http://root:***@127.0.0.1:{url.rsplit(':', 1)[1]}"
    assert line.startswith(f"error: cannot open the store {shown}")
    assert '"store":"' + shown in result.stderr, "the start-up log line names the store, redacted"
    assert PASSWORD not in result.stdout + result.stderr
    # init-db's error path, a password that makes the URL unparseable, and the start line.
    assert PASSWORD not in "".join(refused(metagate(tmp_path, "init-db", "--store", url)))
    broken = metagate(tmp_path, "serve", "--store", f"arangodb+http://root:{PASSWORD}/x@127.0.0.1:1/m", "--log-level", "debug")
    assert refused(broken) and PASSWORD not in broken.stdout + broken.stderr
    start = start_line(config.Settings(STORE=url))
    assert shown in start and PASSWORD not in start


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("arangodb+https://u:p%40ss@db.example:8529/m?graph=g", "arangodb+https://u:***@db.example:8529/m?graph=g"),
        ("arangodb+http://root@db:8529/m", "arangodb+http://root@db:8529/m"),
        ("arangodb+http://:only-password@db/m", "arangodb+http://:***@db/m"),
        # Unescaped characters a URL parser would read as the end of the host part.
        ("arangodb+http://root:pa/ss@db:8529/m", "arangodb+http://root:***@db:8529/m"),
        ("arangodb+http://root:p?x#y@db/m", "arangodb+http://root:***@db/m"),
        ("arangodb+http://root:p@ss@db/m", "arangodb+http://root:***@db/m"),
        ("./metagate.db", "./metagate.db"),
    ],
)
def test_redact_hides_only_the_password(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_unknown_names_are_warned_about_with_the_closest_known_name(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("METAGATE_MAX_PAGESIZE=50\n")
    result = metagate(tmp_path, "token", "list", METAGATE_PROT="9000", METAGATE_URL="http://x", METAGATE_TEST_X="1")
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        "warning: METAGATE_MAX_PAGESIZE is not a Metagate setting and is ignored; did you mean METAGATE_MAX_PAGE_SIZE?",
        "warning: METAGATE_PROT is not a Metagate setting and is ignored; did you mean METAGATE_PORT?",
    ]


def test_token_commands_that_read_never_make_a_store(tmp_path: Path) -> None:
    listed = refused(metagate(tmp_path, "token", "list"))
    revoked = refused(metagate(tmp_path, "token", "revoke", "0123456789abcdef"))
    assert listed == [
        "error: cannot open the store ./metagate.db (--store or METAGATE_STORE): there is no SQLite store at ./metagate.db"
    ]
    assert revoked == listed
    assert list(tmp_path.iterdir()) == []


def test_token_create_then_list_on_a_store(tmp_path: Path) -> None:
    created = metagate(tmp_path, "token", "create", "--name", "ci", "--role", "reader")
    assert created.returncode == 0, created.stderr
    listed = metagate(tmp_path, "token", "list")
    assert listed.returncode == 0 and " reader " in listed.stdout and listed.stdout.rstrip().endswith("ci  (all projects)")
    assert refused(metagate(tmp_path, "token", "create", "--name", "w", "--role", "writer", "--project", "nope")) == [
        "error: no project named 'nope'"
    ]


def test_version() -> None:
    result = subprocess.run([sys.executable, "-m", "metagate", "--version"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stdout.startswith("metagate, version ")


def test_env_example_lists_every_setting_with_its_default() -> None:
    example = Path(__file__).resolve().parents[1] / ".env.example"
    listed = {}
    for line in example.read_text().splitlines():
        if line.startswith("# METAGATE_") and "=" in line:
            name, value = line[2:].split("=", 1)
            listed[name] = value
    server = {name: value for name, value in listed.items() if name.removeprefix("METAGATE_") not in config.CLIENT_VARIABLES}
    assert server == config.defaults()
    assert {name.removeprefix("METAGATE_") for name in listed.keys() - server.keys()} == set(config.CLIENT_VARIABLES)

"""The README cannot rot: every code block in it is run or checked.

- Each GraphQL block is one named operation, followed by a JSON block of its variables
  when it declares any; the blocks run in order against a fresh gateway, and against one
  that `metagate demo` loaded first. A variable written `"<id from OpName>"` takes the
  first id that operation answered, as the README tells its reader to do.
- The Python block is a whole program: it runs against a real gateway with the
  interpreter of a fresh virtual environment holding only the client.
- Shell blocks: every `make` target exists, every `metagate` command line parses, and
  every file a command names exists.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
from click.testing import CliRunner
from graphql import OperationDefinitionNode, parse, validate

from metagate.gateway.app import create_app
from metagate.gateway.auth import issue
from metagate.gateway.cli import main
from metagate.gateway.config import Settings
from metagate.gateway.demo import load_demo
from metagate.resolvers.authz import Role
from metagate.schema import build_schema
from metagate.store.sqlite import SQLiteStore
from tests.client.venv import client_python
from tests.server import Server

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w*)\n(.*?)^```", README, re.S | re.M)]
PLACEHOLDER = re.compile(r"^<id from (\w+)>$")
A_TIME_AFTER = re.compile(r"^<a time after (\w+)>$")


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    """(name, document, variables) of each GraphQL block, in README order."""
    operations = []
    for index, (language, text) in enumerate(BLOCKS):
        if language != "graphql":
            continue
        [definition] = parse(text).definitions
        assert isinstance(definition, OperationDefinitionNode) and definition.name, "one named operation per block"
        variables: dict[str, Any] = {}
        if definition.variable_definitions:
            following, values = BLOCKS[index + 1] if index + 1 < len(BLOCKS) else ("", "")
            assert following == "json", f"{definition.name.value}: its variables must follow it in a json block"
            variables = json.loads(values)
            declared = {v.variable.name.value for v in definition.variable_definitions}
            assert set(variables) == declared, f"{definition.name.value}: variables shown {set(variables)}, declared {declared}"
        operations.append((definition.name.value, text, variables))
    return operations


OPERATIONS = _operations()
PYTHON = [text for language, text in BLOCKS if language == "python"]
SHELL = [text for language, text in BLOCKS if language == "sh"]


def test_every_block_has_a_language_this_test_knows() -> None:
    assert {language for language, _ in BLOCKS} == {"sh", "python", "graphql", "json"}
    assert len(OPERATIONS) >= 10 and len(PYTHON) == 1 and len(SHELL) >= 4


@pytest.mark.parametrize(("name", "document", "variables"), OPERATIONS, ids=[o[0] for o in OPERATIONS])
def test_each_graphql_block_is_valid_against_the_schema(name: str, document: str, variables: dict[str, Any]) -> None:
    assert not [e.message for e in validate(build_schema()._schema, parse(document))]


def _fill(value: Any, answers: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, answers) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, answers) for v in value]
    if isinstance(value, str) and (after := A_TIME_AFTER.match(value)):
        assert f"{after.group(1)}@" in answers, f"{value}: no operation {after.group(1)} runs before this one"
        return answers[f"{after.group(1)}@"]
    if isinstance(value, str) and (placeholder := PLACEHOLDER.match(value)):
        operation = placeholder.group(1)
        assert operation in answers, f"{value}: no operation {operation} runs before this one"
        found = _first_id(answers[operation])
        assert found is not None, f"{value}: {operation} answered no id"
        return found
    return value


def _first_id(data: Any) -> str | None:
    if isinstance(data, dict):
        if isinstance(data.get("id"), str):
            return data["id"]
        for value in data.values():
            if (found := _first_id(value)) is not None:
                return found
    if isinstance(data, list):
        for value in data:
            if (found := _first_id(value)) is not None:
                return found
    return None


@pytest.fixture(params=["fresh", "after-demo"])
async def gateway(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    path = tmp_path / "metagate.db"
    if request.param == "after-demo":
        await load_demo(Settings(STORE=str(path)))
    store = SQLiteStore(str(path))
    await store.open()
    admin = await issue(store, name="readme", role=Role.ADMIN)
    transport = httpx.ASGITransport(app=create_app(Settings(), store=store))
    headers = {"authorization": f"Bearer {admin.secret}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost", headers=headers) as client:
        yield client
    await store.close()


async def test_the_graphql_walk_through_runs_in_order(gateway: httpx.AsyncClient) -> None:
    answers: dict[str, Any] = {}
    for name, document, variables in OPERATIONS:
        response = await gateway.post("/graphql", json={"query": document, "variables": _fill(variables, answers)})
        body = response.json()
        assert "errors" not in body, (name, body["errors"])
        answers[name] = body["data"]
        answers[f"{name}@"] = dt.datetime.now(dt.UTC).isoformat()  # a time after it, for "<a time after ...>"
    # What the walk-through recorded is what its lineage questions find.
    upstream = {n["node"]["name"] for n in answers["Lineage"]["upstream"]["nodes"]}
    assert {"german-credit", "german-credit-encoded", "credit-gbm", "trial-1"} <= upstream
    assert [n["node"]["name"] for n in answers["Lineage"]["impact"]["nodes"]] == ["credit-prod"]
    assert [r["name"] for r in answers["BestRuns"]["runs"]["nodes"]] == ["trial-1", "trial-3"]
    # A declared vendor's data feeds the deployment, found through the declared edge.
    assert [n["node"]["name"] for n in answers["VendorImpact"]["lineage"]["nodes"]] == ["credit-prod"]
    # As of a time after the deployment was registered, the run deleted since is upstream, live.
    deleted = answers["DeleteRun"]["deleteNode"]["node"]["id"]
    as_it_was = {n["node"]["id"]: n["node"]["deletedAt"] for n in answers["DeploymentAsItWas"]["lineage"]["nodes"]}
    assert deleted in as_it_was and as_it_was[deleted] is None
    story = answers["DeploymentStory"]["node"]
    assert story["model"]["project"]["name"] == "credit-risk" and len(story["servingPerf"]["nodes"]) == 1


@pytest.mark.parametrize("demo", [False, True], ids=["fresh", "after-demo"])
def test_the_python_program_runs_with_only_the_client_installed(tmp_path: Path, demo: bool) -> None:
    python = client_python()
    db = tmp_path / "metagate.db"
    if demo:
        loaded = CliRunner().invoke(main, ["demo", "--store", str(db)])
        assert loaded.exit_code == 0, loaded.output
    server = Server(db)  # its first start hands out the admin token (a file here: no terminal)
    try:
        program = tmp_path / "record.py"
        program.write_text(PYTHON[0])
        env = {k: v for k, v in os.environ.items() if not k.startswith("METAGATE_")}
        result = subprocess.run(
            [str(python), str(program)],
            cwd=tmp_path,
            env={**env, "METAGATE_URL": server.url, "METAGATE_TOKEN": server.token or ""},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    printed = {tuple(line.split()[1:]) for line in result.stdout.splitlines()}
    assert {("model", "churn-linear"), ("dataset", "churn-2026-11"), ("featureset", "churn-features-v1")} <= printed


def _commands(text: str) -> list[list[str]]:
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return [shlex.split(line) for line in lines if line]


def _parses(words: list[str]) -> None:
    """Parses a `metagate ...` command line down to its subcommand, running nothing."""
    command: click.Command = main
    while isinstance(command, click.Group) and words and not words[0].startswith("-"):
        found = command.get_command(click.Context(command), words[0])
        assert found is not None, f"no command {words[0]!r}"
        command, words = found, words[1:]
    try:
        command.make_context(command.name or "metagate", list(words))
    except click.exceptions.Exit as done:  # --version and --help answer and exit 0
        assert done.exit_code == 0, words


def test_shell_blocks_name_real_targets_commands_and_files() -> None:
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))
    checked = 0
    for text in SHELL:
        for words in _commands(text):
            if words[0] == "make":
                assert {w for w in words[1:] if "=" not in w} <= targets, words
            elif words[0].endswith("bin/metagate"):
                _parses(words[1:])
            # Files of the repository a command names (scripts, compose files, the client).
            for word in words:
                if word.endswith((".py", ".yaml")) or word == "./client":
                    assert (ROOT / word).exists(), word
            checked += 1
    assert checked >= 10

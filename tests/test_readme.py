"""The GraphQL documents in the README are valid against the served schema."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import parse, validate

from metagate.schema import build_schema

README = Path(__file__).resolve().parents[1] / "README.md"
DOCUMENTS = re.findall(r"```graphql\n(.*?)```", README.read_text(), re.S)


def test_the_readme_shows_graphql() -> None:
    assert len(DOCUMENTS) >= 6


@pytest.mark.parametrize("document", DOCUMENTS, ids=[f"block-{i}" for i in range(len(DOCUMENTS))])
def test_readme_document_is_valid(document: str) -> None:
    schema = build_schema()._schema
    ast = parse(document)
    for definition in ast.definitions:
        # Blocks may hold several operations; validate each on its own.
        errors = validate(schema, type(ast)(definitions=(definition,)))
        assert not errors, [e.message for e in errors]

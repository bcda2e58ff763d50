"""The client is its own distribution, without the gateway's package: its copy of the data
dictionary's names is generated (`make vocabulary`) and held to the dictionary here, so a
kind or a navigation field added to the gateway shows in the client's diff too."""

from __future__ import annotations

from pathlib import Path

import pytest

from metagate.store.model import KINDS, client_vocabulary, ui_vocabulary
from metagate_client import BadInput, Client
from metagate_client._vocabulary import KINDS as CLIENT_KINDS
from metagate_client._vocabulary import NAVIGATION, TYPES

FILE = Path(__file__).parent.parent / "client" / "metagate_client" / "_vocabulary.py"
UI_FILE = Path(__file__).parent.parent / "ui" / "src" / "vocabulary.ts"


def test_the_clients_vocabulary_is_the_data_dictionarys() -> None:
    assert FILE.read_text() == client_vocabulary(), "run `make vocabulary`"
    assert CLIENT_KINDS == tuple(k.value for k in KINDS)
    assert TYPES["modelparams"] == "ModelParams" and "model" in NAVIGATION["run"]
    assert TYPES["modelversion"] == "ModelVersion" and NAVIGATION["deployment"][:2] == ("model", "modelVersion")


def test_the_client_refuses_a_kind_the_gateway_does_not_have_before_sending() -> None:
    # No gateway listens here: the refusal comes before any request.
    with Client("http://127.0.0.1:9", token="t") as mg, pytest.raises(BadInput, match="kind must be one of project, dataset"):
        mg.find("datasets", "rows", 1)


def test_the_web_uis_vocabulary_is_the_data_dictionarys() -> None:
    text = UI_FILE.read_text()
    assert text == ui_vocabulary(), "run `make vocabulary`"
    assert '  RUN_DATASET: "to",\n' in text and "  PROJECT_MODEL: null,\n" in text

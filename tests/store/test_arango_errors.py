"""Driver errors become Metagate's coded errors in one place; connection settings keep
credentials out of sight. No server needed: the errors are the driver's own classes."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Collection
from typing import Any

import arangoasync.errno as errno
import pytest
from arangoasync.exceptions import AQLQueryExecuteError, ClientConnectionError, ServerConnectionError
from arangoasync.request import Method, Request
from arangoasync.response import Response

from metagate.store.arango import ArangoStore, ArangoTx, map_errors, parse_url, translate
from metagate.store.errors import BadUserInput, Conflict, DeadlineExceeded, NotFound, Unavailable, WriteConflict
from metagate.store.factory import store_from_url
from metagate.store.model import Kind, Node, utcnow
from metagate.store.port import atomically
from metagate.store.sqlite import SQLiteStore


def _server_error(status: int, error_num: int, message: str) -> AQLQueryExecuteError:
    response = Response(Method.POST, "http://db:8529/_db/m/_api/cursor", {}, status, "x", b"{}")
    response.error_code = error_num
    response.error_message = message
    response.is_success = False
    return AQLQueryExecuteError(response, Request(Method.POST, "/_api/cursor"))


@pytest.mark.parametrize(
    ("status", "errno", "expected", "code"),
    [
        (409, errno.CONFLICT, WriteConflict, "CONFLICT"),
        # RocksDB's deadlock and lock timeout: the write is run again, as after a conflict.
        (500, errno.DEADLOCK, WriteConflict, "CONFLICT"),
        (500, errno.LOCK_TIMEOUT, WriteConflict, "CONFLICT"),
        (409, errno.UNIQUE_CONSTRAINT_VIOLATED, Conflict, "CONFLICT"),
        (404, errno.DOCUMENT_NOT_FOUND, NotFound, "NOT_FOUND"),
        (404, errno.DATA_SOURCE_NOT_FOUND, Unavailable, "UNAVAILABLE"),
        (404, errno.DATABASE_NOT_FOUND, Unavailable, "UNAVAILABLE"),
        (401, errno.HTTP_UNAUTHORIZED, Unavailable, "UNAVAILABLE"),
        (503, errno.SHUTTING_DOWN, Unavailable, "UNAVAILABLE"),
        (404, errno.TRANSACTION_NOT_FOUND, Unavailable, "UNAVAILABLE"),
        (410, errno.TRANSACTION_ABORTED, Unavailable, "UNAVAILABLE"),
        (400, errno.TRANSACTION_DISALLOWED_OPERATION, Unavailable, "UNAVAILABLE"),
        (400, errno.QUERY_COLLECTION_LOCK_FAILED, Unavailable, "UNAVAILABLE"),
        (400, errno.QUERY_TOO_MUCH_NESTING, BadUserInput, "BAD_USER_INPUT"),
        (500, errno.RESOURCE_LIMIT, BadUserInput, "BAD_USER_INPUT"),
        (410, errno.QUERY_KILLED, DeadlineExceeded, "DEADLINE_EXCEEDED"),
    ],
)
def test_server_errors_map_to_coded_errors(status: int, errno: int, expected: type, code: str) -> None:
    mapped = translate(_server_error(status, errno, "AQL: boom"))
    assert type(mapped) is expected
    assert mapped.code == code  # type: ignore[attr-defined]


def test_missing_collections_point_at_init_db() -> None:
    assert "init-db" in str(translate(_server_error(404, 1203, "collection or view not found")))


def test_a_traversal_refused_a_collection_says_which_and_why() -> None:
    # ArangoDB's words for 1521 (ERROR_QUERY_COLLECTION_LOCK_FAILED) from a traversal.
    said = "collection not known to traversal: 'custom'. please add 'WITH custom' as the first line in your AQL"
    error = _server_error(400, 1521, said)
    message = str(translate(error))
    assert "1521" in message and "custom" in message and "outside" in message


@pytest.mark.parametrize("errno_", [errno.QUERY_TOO_MUCH_NESTING, errno.RESOURCE_LIMIT])
def test_a_query_beyond_the_servers_limits_asks_for_less(errno_: int) -> None:
    message = str(translate(_server_error(400, errno_, "too much nesting or too many objects")))
    assert str(errno_) in message and "less at once" in message


def test_map_errors_maps_what_its_block_raises_and_leaves_what_the_caller_handles() -> None:
    error = _server_error(409, errno.CONFLICT, "write-write conflict")
    with pytest.raises(WriteConflict) as raised, map_errors():
        raise error
    assert raised.value.__cause__ is error
    refused = _server_error(400, errno.QUERY_TOO_MUCH_NESTING, "too much nesting")
    with pytest.raises(AQLQueryExecuteError) as left, map_errors(leave={errno.QUERY_TOO_MUCH_NESTING}):
        raise refused
    assert left.value is refused
    with pytest.raises(asyncio.CancelledError), map_errors():
        raise asyncio.CancelledError


def test_unknown_server_errors_stay_internal() -> None:
    error = _server_error(400, 1501, "syntax error, unexpected identifier")
    assert translate(error) is error  # masked as INTERNAL by the gateway, logged with the request id


def test_connection_loss_is_unavailable() -> None:
    assert isinstance(translate(ClientConnectionError("Cannot connect to host db:8529")), Unavailable)
    assert isinstance(translate(_server_connection_error()), Unavailable)
    assert isinstance(translate(ConnectionResetError()), Unavailable)


def _server_connection_error() -> ServerConnectionError:
    response = Response(Method.GET, "http://db:8529/_api/version", {}, 401, "Unauthorized", b"")
    return ServerConnectionError(response, Request(Method.GET, "/_api/version"), "Authentication failed.")


async def test_a_server_that_is_not_there_gives_unavailable_without_the_password() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        store = store_from_url(f"arangodb+http://metagate:hunter2@127.0.0.1:{port}/pipelines")
        assert isinstance(store, ArangoStore)
        with pytest.raises(Unavailable) as raised:
            await store.open()
    assert "hunter2" not in str(raised.value) and "hunter2" not in repr(store)


def test_store_urls() -> None:
    settings = parse_url("arangodb+https://ml%40corp:p%3Ass@arango.internal:8530/ml_meta?graph=custom_graph")
    assert settings.hosts == "https://arango.internal:8530"
    assert (settings.username, settings.password) == ("ml@corp", "p:ss")
    assert (settings.database, settings.graph) == ("ml_meta", "custom_graph")
    assert "p:ss" not in repr(settings) and "p:ss" not in str(settings)
    assert parse_url("arangodb+http://root@localhost/").graph == "enterprise_ml_graph"
    with pytest.raises(ValueError):
        parse_url("arangodb+ftp://root@localhost/x")


async def test_atomically_reruns_the_whole_write_after_a_write_conflict() -> None:
    store = SQLiteStore(":memory:")
    await store.open()
    attempts = 0

    async def work(tx):  # type: ignore[no-untyped-def]
        nonlocal attempts
        attempts += 1
        await tx.insert_nodes([Node(f"dataset/d{attempts}", Kind.DATASET, f"d{attempts}", utcnow())])
        if attempts < 3:
            raise WriteConflict("a concurrent write won")
        return attempts

    assert await atomically(store, work) == 3
    # The two conflicted attempts were rolled back whole.
    assert (await store.count_all())["dataset"] == 1
    assert await store.get_nodes(["dataset/d1", "dataset/d3"]) == [None, (await store.get_nodes(["dataset/d3"]))[0]]
    await store.close()


def test_a_transaction_the_server_dropped_says_nothing_was_written() -> None:
    message = str(translate(_server_error(410, errno.TRANSACTION_ABORTED, "transaction aborted")))
    assert "nothing of it was written" in message and "try again" in message


class _Tx(ArangoTx):
    """A write transaction whose statements go nowhere: each is kept, and the one whose
    text starts with ``refused`` fails with ``error``, as the driver raises it."""

    def __init__(self, refused: str, error: Exception) -> None:
        super().__init__(ArangoStore(parse_url("arangodb+http://root@localhost/m")), None)
        self.refused, self.error = refused, error
        self.sent: list[str] = []

    async def run(self, query: Any, *, leave: Collection[int] = ()) -> list[Any]:
        self.sent.append(query.text)
        if query.text.startswith(self.refused):
            with map_errors(leave=leave):
                raise self.error
        return []


async def test_restoring_a_name_taken_meanwhile_is_a_conflict_not_a_retry() -> None:
    # The unique index refuses the scope set back: ArangoDB's 1210.
    error = _server_error(409, errno.UNIQUE_CONSTRAINT_VIOLATED, "unique constraint violated - in index metagate_scoped_name")
    tx = _Tx("FOR d IN @@c FILTER d._key IN @keys AND d.deletedAt != null", error)
    with pytest.raises(Conflict) as raised:
        await tx.restore_nodes(["model/m1"])
    assert type(raised.value) is Conflict and raised.value.__cause__ is error
    assert "holds now" in str(raised.value)
    assert len(tx.sent) == 1  # no edge shown again
    # Any other failure maps as every statement's does.
    tx = _Tx("FOR d IN @@c", _server_error(409, errno.CONFLICT, "write-write conflict"))
    with pytest.raises(WriteConflict):
        await tx.restore_nodes(["model/m1"])

"""The gateway as it is served, with real processes: slow clients and too many
connections are bounded, several worker processes share one store, and a stop
(SIGTERM) finishes what was asked before it and loses nothing acknowledged."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server import LOG_RUN, Server, pipeline_ids


def _answer(sock: socket.socket, within: float = 10) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(within)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def _one_answer(sock: socket.socket) -> bytes:
    """One whole answer on a connection kept alive (by its Content-Length)."""
    sock.settimeout(5)
    received = b""
    while b"\r\n\r\n" not in received or len(received.split(b"\r\n\r\n", 1)[1]) < _length(received):
        chunk = sock.recv(65536)
        assert chunk, f"closed before the answer was whole: {received!r}"
        received += chunk
    return received


def _length(received: bytes) -> int:
    for line in received.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise AssertionError(f"no content-length: {received!r}")


def _connect(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def _body(answer: bytes) -> Any:
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


def _request(body: bytes, token: str | None) -> bytes:
    return (
        b"POST /graphql HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n"
        + (f"authorization: Bearer {token}\r\n".encode() if token else b"")
        + b"content-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
    )


@pytest.fixture(scope="module")
def slow_bounded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(
        tmp_path_factory.mktemp("bounded") / "metagate.db",
        None,
        HEADER_TIMEOUT_SECONDS="1",
        BODY_TIMEOUT_SECONDS="1",
        MAX_CONNECTIONS="40",
    )
    yield server
    server.stop()


def test_connections_trickling_their_headers_are_answered_408_and_closed(slow_bounded: Server) -> None:
    """20 clients sending a header byte every 0.3 s: each is closed with a coded 408
    once its headers have taken a second, while others are served."""
    socks = [_connect(slow_bounded) for _ in range(20)]
    for sock in socks:
        sock.sendall(b"POST /graphql HTTP/1.1\r\nhost: localhost\r\n")
    for _ in range(10):  # 3 s of trickling; each is closed after 1 s
        time.sleep(0.3)
        for sock in socks:
            try:
                sock.sendall(b"x")
            except OSError:
                pass  # closed by the server, as it should be
    closed = [_answer(sock) for sock in socks]
    for sock in socks:
        sock.close()
    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in closed), closed[0]
    assert _body(closed[0])["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert httpx.get(f"{slow_bounded.url}/healthz", timeout=5).status_code == 200


def test_a_connection_that_sends_nothing_is_closed_without_an_answer(slow_bounded: Server) -> None:
    with _connect(slow_bounded) as sock:
        assert _answer(sock) == b""


def test_a_kept_alive_connections_next_request_is_timed_as_its_first(slow_bounded: Server) -> None:
    """After a whole request and its answer, the connection's next request may not
    trickle either."""
    with _connect(slow_bounded) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n")
        assert _one_answer(sock).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        for _ in range(10):
            time.sleep(0.3)
            try:
                sock.sendall(b"x")
            except OSError:
                break
        assert _answer(sock).startswith(b"HTTP/1.1 408 ")


def test_a_body_that_trickles_is_answered_408_and_closed(slow_bounded: Server) -> None:
    body = json.dumps({"query": "{ __typename }"}).encode()
    with _connect(slow_bounded) as sock:
        sock.sendall(_request(body, slow_bounded.token) + body[:10])
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    error = _body(answer)["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "body took longer than 1 s" in error["message"]


def test_a_body_that_arrives_in_pieces_in_time_is_served(slow_bounded: Server) -> None:
    body = json.dumps({"query": "{ __typename }"}).encode()
    with _connect(slow_bounded) as sock:
        sock.sendall(_request(body, slow_bounded.token) + body[:10])
        time.sleep(0.3)
        sock.sendall(body[10:])
        answer = _one_answer(sock)
    assert answer.startswith(b"HTTP/1.1 200 ") and _body(answer) == {"data": {"__typename": "Query"}}


def test_connections_over_the_cap_are_refused_503_at_once(tmp_path: Path) -> None:
    server = Server(tmp_path / "metagate.db", None, MAX_CONNECTIONS="5")
    try:
        held = [_connect(server) for _ in range(5)]
        time.sleep(0.2)  # accepted by the server, not only by the kernel
        with _connect(server) as extra:
            answer = _answer(extra)
        assert answer.startswith(b"HTTP/1.1 503 "), answer
        assert _body(answer)["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        for sock in held:
            sock.close()
        time.sleep(0.2)
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
    finally:
        server.stop()


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found]


def _run_names(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM nodes WHERE kind = 'run'")}


def _token_count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM tokens").fetchone()[0])


def _log_run(name: str, ids: dict[str, str]) -> dict[str, str]:
    return {**ids, "n": name}


def test_workers_share_one_store_and_a_stop_loses_no_acknowledged_write(tmp_path: Path) -> None:
    """Two worker processes on one SQLite file: one admin token made, writes from 8
    clients all taken; a SIGTERM while they write, and while one request's body is still
    coming, ends every acknowledged write in the store, answers that request whole, cuts
    no answer in the middle and closes the store (its WAL file is gone)."""
    db = tmp_path / "metagate.db"
    server = Server(db, None, "--workers", "2", SHUTDOWN_SECONDS="10", BODY_TIMEOUT_SECONDS="30")
    assert len(_children(server.process.pid)) >= 2
    assert _token_count(db) == 1
    ids = pipeline_ids(server)

    acknowledged: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def writer(n: int) -> None:
        with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {server.token}"}, timeout=10) as client:
            i = 0
            while not stop.is_set():
                name = f"w{n}-{i}"
                i += 1
                answered = False
                try:
                    with client.stream("POST", "/graphql", json={"query": LOG_RUN, "variables": _log_run(name, ids)}) as response:
                        answered = True
                        response.read()  # h11 refuses a body shorter than its Content-Length
                except httpx.ConnectError:
                    return  # no longer accepting: the stop has begun
                except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError) as error:
                    if answered:
                        failures.append(f"{name}: an answer cut short: {error!r}")
                        return
                    continue  # sent on a kept-alive connection as the stop closed it: never read
                body = response.json()
                if response.status_code == 200 and body.get("data", {}).get("logRun"):
                    acknowledged.append(name)
                else:
                    failures.append(f"{name}: {response.status_code} {body}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    # A request whose headers are in before the stop, and its body after it.
    body = json.dumps({"query": LOG_RUN, "variables": _log_run("in-flight", ids)}).encode()
    pending = _connect(server)
    pending.sendall(_request(body, server.token) + body[:20])
    time.sleep(0.3)
    before = len(acknowledged)
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    pending.sendall(body[20:])
    answer = _answer(pending, within=15)
    pending.close()
    stop.set()
    for thread in threads:
        thread.join(timeout=20)
    assert server.process.wait(timeout=20) == 0
    closed = not Path(f"{db}-wal").exists()  # the last connection to close removes it
    assert failures == []
    assert before > 50
    assert answer.startswith(b"HTTP/1.1 200 ") and _body(answer)["data"]["logRun"]["run"]["name"] == "in-flight"
    stored = _run_names(db)
    assert set(acknowledged) | {"in-flight"} <= stored
    assert closed, server.output()[-3000:]


def _socket_owners(pids: list[int]) -> dict[int, int]:
    """The processes among ``pids`` holding each socket, by its inode."""
    owners: dict[int, int] = {}
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                link = os.readlink(fd)
                if link.startswith("socket:["):
                    owners[int(link[8:-1])] = pid
    return owners


def _server_ends(port: int) -> dict[int, int]:
    """The inodes of the server's ends of connections to ``port``, by the client's port."""
    ends: dict[int, int] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], int(fields[9])
        if int(local.split(":")[1], 16) == port and int(remote.split(":")[1], 16) != 0:
            ends[int(remote.split(":")[1], 16)] = inode
    return ends


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel shares connections out between sockets on Linux")
def test_connections_opened_at_once_are_shared_out_between_the_workers(tmp_path: Path) -> None:
    """A client that opens its pool of connections at once (as the bench's and most HTTP
    clients' pools do) has them served by every worker. With one listening socket for
    all the workers, the first to wake accepted every connection pending, and one
    process served the whole pool while the others stood idle."""
    server = Server(tmp_path / "metagate.db", None, "--workers", "2")
    try:
        workers = _children(server.process.pid)
        pool = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(32)]
        try:
            for sock in pool:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
            for sock in pool:
                assert _one_answer(sock).startswith(b"HTTP/1.1 200 ")
            owners, ends = _socket_owners(workers), _server_ends(server.port)
            served = [owners[ends[sock.getsockname()[1]]] for sock in pool]
        finally:
            for sock in pool:
                sock.close()
    finally:
        server.stop()
    counts = {pid: served.count(pid) for pid in set(served)}
    # Shared out at random: 3 or fewer on one side 1 time in 390,000.
    assert len(counts) == 2 and min(counts.values()) >= 4, counts


def test_a_second_gateway_on_the_port_of_one_with_workers_is_refused(tmp_path: Path) -> None:
    """The workers' sockets share their port with each other only: a second gateway
    started on it, with workers of its own too, is refused with the port-in-use line
    instead of being handed a share of the first one's connections."""
    first = Server(tmp_path / "first.db", None, "--workers", "2")
    try:
        second = subprocess.run(
            [sys.executable, "-m", "metagate", "serve", "--port", str(first.port), "--store", str(tmp_path / "second.db")]
            + ["--workers", "2"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2, second.stdout + second.stderr
        assert f"port {first.port} on 127.0.0.1 is in use" in second.stderr
        assert httpx.get(f"{first.url}/readyz", timeout=5).status_code == 200
    finally:
        first.stop()


def test_a_body_too_large_is_answered_413_and_its_connection_closed(slow_bounded: Server) -> None:
    """Its body is not read: the connection is closed after the answer, not left to
    parse the rest of the body as the next request's headers."""
    with _connect(slow_bounded) as sock:
        sock.sendall(_request(b"x" * 2_000_000, slow_bounded.token) + b"x" * 1000)
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"connection: close" in answer.lower()
    assert _body(answer)["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

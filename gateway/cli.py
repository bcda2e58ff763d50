"""The ``metagate`` command."""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import ipaddress
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import Any, TypeVar

import click

from metagate import __version__
from metagate.gateway import config
from metagate.resolvers.authz import Role
from metagate.store.factory import redact, store_from_url
from metagate.store.port import Store, Token
from metagate.store.sqlite import SQLiteStore

T = TypeVar("T")


@click.group()
@click.version_option(__version__, prog_name="metagate")
def main() -> None:
    """Metagate: a GraphQL metadata gateway for machine-learning pipelines."""


class _Failed(click.ClickException):
    """A setting or a step that cannot work: one line for each problem, exit code 2,
    no traceback."""

    exit_code = 2

    def __init__(self, *lines: str) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines

    def show(self, file: Any = None) -> None:
        for line in self.lines:
            click.echo(f"error: {line}", err=True)


def _settings(names: Collection[str] | None = None, **overrides: Any) -> config.Settings:
    """The settings a command reads (``names``, by default all), from the environment and
    .env with the command line's on top; each bad value one line, and a warning for each
    unknown METAGATE_* name. A setting given on the command line is not read from the
    environment, and the command line's values pass the same checks."""
    given: dict[str, Any] = {}
    problems = []
    for name, value in overrides.items():
        if value is None:
            continue
        try:
            given[name] = config.PARSERS[name](str(value))
        except ValueError as error:
            problems.append(f"--{name.lower().replace('_', '-')} {error}, not {value!r}")
    wanted = set(config.PARSERS if names is None else names) - set(given)
    try:
        loaded = config.read(names=wanted)
    except config.SettingError as error:
        _warn(error.warnings)  # a misspelt name may be why a value is missing
        raise _Failed(*error.problems, *problems) from None
    _warn(loaded.warnings)
    if problems:
        raise _Failed(*problems)
    return loaded.settings.with_(**given)


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


def _is_loopback(host: str) -> bool:
    """A bind address that is this machine's loopback: ``localhost`` or a loopback IP
    (a name that DNS resolves is not taken: it could resolve elsewhere)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _store(url: str, *, create: bool = True) -> Store:
    try:
        return store_from_url(url, create=create)
    except ValueError as error:
        raise _Failed(f"the store (--store or METAGATE_STORE) {redact(url)!r}: {error}") from None


async def _with_store(url: str, work: Callable[[Store], Awaitable[T]], *, create: bool = True) -> T:
    from metagate.store.errors import MetagateError

    store = _store(url, create=create)
    try:
        await store.open()
    except MetagateError as error:
        raise _Failed(f"cannot open the store {redact(url)} (--store or METAGATE_STORE): {error.message}") from None
    try:
        return await work(store)
    except MetagateError as error:
        raise _Failed(f"the store {redact(url)}: {error.message}") from None
    finally:
        await store.close()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def start_line(settings: config.Settings) -> str:
    return f"Metagate on http://{_url_host(settings.HOST)}:{settings.PORT}/graphql (store {redact(settings.STORE)})"


# Where several sockets listening on one port have the kernel share new connections out
# between them (on Linux; BSD's and macOS's SO_REUSEPORT does not share them out).
SHARED_PORT = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _listen(host: str, port: int, *, shared: bool = False) -> socket.socket:
    """The listening socket, made here (uvicorn serves it) so that a port in use is one
    clear line, found before anything else is done. ``shared``: one of several on the
    port (SO_REUSEPORT), one for each worker; a socket bound without it, as the first
    one asked for is, fails where anything listens on the port already, those included."""
    where = "(--host or METAGATE_HOST)"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as error:
        raise _Failed(f"cannot listen on {host} {where}: {error.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
        # Listening at once: a socket only bound could share the port with another
        # process's until uvicorn listened, and uvloop would not report that failure.
        sock.listen(2048)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise _Failed(
                f"port {port} on {host} is in use: stop what listens there, or choose another port"
                " with --port, METAGATE_PORT or make serve PORT=..."
            ) from None
        if error.errno == errno.EACCES:
            raise _Failed(f"port {port} needs privileges: choose a port above 1023 with --port or METAGATE_PORT") from None
        raise _Failed(f"cannot listen on {host} {where}: {error.strerror or error}") from None
    return sock


@main.command()
@click.option("--host", default=None, help="Bind address (default 127.0.0.1, METAGATE_HOST).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default 8000, METAGATE_PORT).")
@click.option("--store", default=None, help="Store URL or SQLite path (default ./metagate.db, METAGATE_STORE).")
@click.option(
    "--log-level",
    type=click.Choice(config.LOG_LEVELS, case_sensitive=False),
    default=None,
    help="debug, info, warning or error (METAGATE_LOG_LEVEL).",
)
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Gateway processes (default 1, METAGATE_WORKERS).")
@click.option("--no-auth", is_flag=True, help="Serve without API tokens (loopback addresses only).")
def serve(
    host: str | None, port: int | None, store: str | None, log_level: str | None, workers: int | None, no_auth: bool
) -> None:
    """Run the gateway: GraphQL and GraphiQL at /graphql."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    from metagate.gateway.app import admin_token_file, create_app
    from metagate.gateway.auth import announce_admin_token, bootstrap_admin
    from metagate.gateway.observability import configure_logging
    from metagate.gateway.server import AppFactory, Workers, server_config

    settings = _settings(HOST=host, PORT=port, STORE=store, LOG_LEVEL=log_level, WORKERS=workers, AUTH=False if no_auth else None)
    if not settings.AUTH and not _is_loopback(settings.HOST):
        raise _Failed(f"refusing to serve {settings.HOST} without authentication: --no-auth is for loopback addresses")
    if settings.WORKERS > 1 and settings.STORE == ":memory:":
        raise _Failed("an in-memory store lives in one process: serve it with one worker, or give a store file")
    _store(settings.STORE)  # a store URL of no known kind, before anything is done
    sock = _listen(settings.HOST, settings.PORT)
    shared = settings.WORKERS > 1 and SHARED_PORT
    if shared:
        # The port is free (nothing, another gateway's workers included, listens there):
        # now the first of the workers' sockets.
        sock.close()
        sock = _listen(settings.HOST, settings.PORT, shared=True)

    async def first_start(opened: Store) -> None:
        # Made here, once, before any worker starts: workers that each found no token
        # would each make one. Without auth, the tokens are read all the same: what the
        # first start-up step reads.
        if not settings.AUTH:
            await opened.list_tokens()
        elif (issued := await bootstrap_admin(opened)) is not None:
            announce_admin_token(issued.secret, admin_token_file(opened), sys.stdout.isatty())

    configure_logging(settings.LOG_LEVEL)
    logging.getLogger("metagate").info("opening the store", extra={"store": redact(settings.STORE)})
    # Opened once before serving, so that a store that cannot be used (unreachable, not
    # initialised, newer than this code) is one line and exit code 2, not a failed
    # start-up with a traceback; and migrated here, not by each worker.
    if settings.STORE != ":memory:":
        try:
            asyncio.run(_with_store(settings.STORE, first_start))
        except _Failed:
            sock.close()
            raise
    if not settings.AUTH:
        click.echo("warning: serving without authentication; anyone on this machine has admin rights", err=True)
    click.echo(start_line(settings) + (f" in {settings.WORKERS} processes" if settings.WORKERS > 1 else ""))
    if settings.WORKERS == 1:
        uvicorn.Server(server_config(settings, create_app(settings))).run(sockets=[sock])
        return
    worker_config = server_config(settings, AppFactory(settings))
    if shared:
        first = [sock]
        supervisor: Multiprocess = Workers(
            worker_config, lambda: first.pop() if first else _listen(settings.HOST, settings.PORT, shared=True)
        )
    else:
        supervisor = Multiprocess(worker_config, sockets=[sock])
    supervisor.run()
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        # A worker could not start (the supervisor stopped then): the exit status says
        # so, as one process's does.
        sys.exit(STARTUP_FAILURE)


@main.group()
def token() -> None:
    """Create, list and revoke API tokens."""


_store_option = click.option("--store", default=None, help="Store URL or SQLite path (METAGATE_STORE).")


@token.command("create")
@click.option("--name", required=True, help="Who or what holds the token, e.g. ci-training.")
@click.option("--role", type=click.Choice([r.value for r in reversed(Role)]), required=True)
@click.option("--project", "projects", multiple=True, help="Limit a writer or deployer to this project (repeatable).")
@_store_option
def token_create(name: str, role: str, projects: tuple[str, ...], store: str | None) -> None:
    """Create a token and print it (shown only this once)."""
    from metagate.gateway.auth import Issued, issue
    from metagate.store.errors import MetagateError

    settings = _settings(["STORE"], STORE=store)

    async def work(s: Store) -> Issued:
        try:
            return await issue(s, name=name, role=Role(role), projects=projects)
        except MetagateError as error:
            raise _Failed(error.message) from None

    click.echo(asyncio.run(_with_store(settings.STORE, work)).secret)


@token.command("list")
@_store_option
def token_list(store: str | None) -> None:
    """List tokens (never their secrets)."""
    settings = _settings(["STORE"], STORE=store)

    async def work(s: Store) -> list[Token]:
        return await s.list_tokens()

    # Reading tokens never makes a store: a mistyped path is an error, not an empty file.
    for t in asyncio.run(_with_store(settings.STORE, work, create=False)):
        state = f"revoked {t.revoked_at}" if t.revoked_at else "active"
        projects = ",".join(t.projects) or "all projects"
        click.echo(f"{t.id}  {t.role:<6}  {state:<8}  {t.created_at}  {t.name}  ({projects})")


@token.command("revoke")
@click.argument("token_id")
@_store_option
def token_revoke(token_id: str, store: str | None) -> None:
    """Revoke a token by its id (the 16 hex digits after mg_)."""
    from metagate.store.model import utcnow

    settings = _settings(["STORE"], STORE=store)

    async def work(s: Store) -> bool:
        return await s.revoke_token(token_id, utcnow())

    if not asyncio.run(_with_store(settings.STORE, work, create=False)):
        raise _Failed(f"no active token {token_id}")
    click.echo(f"revoked {token_id}")


@main.command("export-schema")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
def export_schema(output: Path | None) -> None:
    """Print the GraphQL schema (SDL)."""
    from metagate.schema import printed

    text = printed()
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)


@main.command("init-db")
@click.option("--store", default=None, help="arangodb+http://user:password@host:8529/database (METAGATE_STORE).")
def init_db(store: str | None) -> None:
    """Create the ArangoDB database objects Metagate needs (safe to run again)."""
    from metagate.store.arango import parse_url
    from metagate.store.arango_init import RepeatedValues
    from metagate.store.arango_init import init_db as run_init
    from metagate.store.errors import MetagateError

    settings = _settings(["STORE"], STORE=store)
    if not settings.STORE.startswith("arangodb+"):
        # The SQLite store creates and migrates its file on start.
        click.echo("init-db is for ArangoDB stores; the SQLite store sets itself up on start.")
        return
    try:
        arango = parse_url(settings.STORE)
    except ValueError as error:
        raise _Failed(f"the store (--store or METAGATE_STORE) {redact(settings.STORE)!r}: {error}") from None
    try:
        done = asyncio.run(run_init(arango))
    except RepeatedValues as error:
        for line in error.done:
            click.echo(line)
        raise _Failed(*error.lines) from None
    except MetagateError as error:
        raise _Failed(f"{error.message} ({redact(settings.STORE)})") from None
    for line in done or ["nothing to do: the database is up to date"]:
        click.echo(line)


def _one_file(a: Store, b: Store) -> bool:
    """Whether two SQLite stores are one file, however their paths are written."""
    if isinstance(a, SQLiteStore) and isinstance(b, SQLiteStore) and not (a.memory or b.memory):
        return os.path.realpath(a.path) == os.path.realpath(b.path)
    return False


@main.command("rebuild-lineage")
@click.option("--from", "source", required=True, help="The store whose kept OpenLineage events are read (URL or SQLite path).")
@click.option("--store", default=None, help="The store the graph is made in (METAGATE_STORE; default ./metagate.db).")
def rebuild_lineage(source: str, store: str | None) -> None:
    """Make the graph the OpenLineage events kept in one store made, in another.

    The events are applied in the order they were received, as ingesting them did, and
    kept there too. Events the target holds already change nothing: a rebuild stopped
    part way can be run again."""
    from metagate.resolvers.openlineage import rebuild
    from metagate.store.changes import origin as written_by

    settings = _settings(["STORE"], STORE=store)

    async def work(target: Store) -> str:
        async def read(origin: Store) -> str:
            if source == settings.STORE or _one_file(origin, target):
                raise _Failed("--from and --store name the same store: it holds its events' graph already")
            with written_by(operation="rebuild-lineage"):
                done = await rebuild(origin, target)
            return f"{done.events} kept events read from {redact(source)}; {done.applied} applied to {redact(settings.STORE)}"

        return await _with_store(source, read, create=False)

    click.echo(asyncio.run(_with_store(settings.STORE, work)))


@main.command()
@click.option("--older-than", "older_than", required=True, help="Purge nodes deleted longer ago than this: 30d, 12h, 2w.")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 10_000), help="Nodes purged per transaction.")
@click.option(
    "--pause",
    default=0.02,
    show_default=True,
    type=click.FloatRange(0, 10),
    help="Seconds between batches: the gateway's reads and writes have the machine to themselves meanwhile.",
)
@click.option("--store", default=None, help="Store URL or SQLite path (default ./metagate.db).")
def gc(older_than: str, batch: int, pause: float, store: str | None) -> None:
    """Remove nodes deleted longer ago than --older-than for good.

    With them go their edges, tags, metric histories, moves, their marks in the change
    log (its entries stay) and the keyed answers that name them. A batch at a time, each
    its own short transaction: the gateway serves reads and writes meanwhile, and a gc
    stopped part way is run again to finish."""
    from metagate.resolvers.deletion import purge
    from metagate.resolvers.validate import parse_duration
    from metagate.store.model import format_time

    try:
        span = parse_duration(older_than)
    except ValueError as error:
        raise _Failed(f"--older-than {error}, not {older_than!r}") from None
    settings = _settings(["STORE"], STORE=store)

    async def work(target: Store) -> str:
        now = dt.datetime.now(dt.UTC)
        total = await target.count_deleted(format_time(now - span))
        with click.progressbar(length=total, label="purging deleted nodes", file=sys.stderr) as bar:
            done = await purge(target, span, batch=batch, pause=pause, progress=bar.update, now=now)
        return f"{done.nodes} deleted nodes purged in {done.batches} batches from {redact(settings.STORE)}"

    click.echo(asyncio.run(_with_store(settings.STORE, work, create=False)))


@main.command()
@click.option("--store", default=None, help="Store URL or SQLite path (default ./metagate.db).")
def demo(store: str | None) -> None:
    """Load a small, realistic pipeline into the store (running it twice changes nothing)."""
    from metagate.gateway.demo import load_demo
    from metagate.store.errors import MetagateError

    settings = _settings(["STORE", *config.LIMIT_VARIABLES], STORE=store)
    _store(settings.STORE)  # a URL that names no store is one line, before anything runs
    try:
        summary = asyncio.run(load_demo(settings))
    except MetagateError as error:
        raise _Failed(f"cannot load the demo into {redact(settings.STORE)}: {error.message}") from None
    click.echo(summary)

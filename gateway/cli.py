"""The ``metagate`` command."""

from __future__ import annotations

import asyncio
import ipaddress
import sys
from pathlib import Path
from typing import Any

import click

from metagate import __version__
from metagate.gateway import config


@click.group()
@click.version_option(__version__, prog_name="metagate")
def main() -> None:
    """Metagate: a GraphQL metadata gateway for machine-learning pipelines."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@main.command()
@click.option("--host", default=None, help="Bind address (default 127.0.0.1, METAGATE_HOST).")
@click.option("--port", type=int, default=None, help="Port (default 8000, METAGATE_PORT).")
@click.option("--store", default=None, help="Store URL or SQLite path (default ./metagate.db, METAGATE_STORE).")
@click.option("--log-level", default=None, help="debug, info, warning or error.")
@click.option("--no-auth", is_flag=True, help="Serve without API tokens (loopback addresses only).")
def serve(host: str | None, port: int | None, store: str | None, log_level: str | None, no_auth: bool) -> None:
    """Run the gateway: GraphQL and GraphiQL at /graphql."""
    import uvicorn

    from metagate.gateway.app import create_app

    settings = config.load().with_(HOST=host, PORT=port, STORE=store, LOG_LEVEL=log_level)
    if no_auth:
        settings = settings.with_(AUTH=False)
    if not settings.AUTH and not _is_loopback(settings.HOST):
        raise click.UsageError(f"refusing to serve {settings.HOST} without authentication: --no-auth is for loopback addresses")
    from metagate.gateway.observability import configure_logging

    configure_logging(settings.LOG_LEVEL)
    if not settings.AUTH:
        click.echo("warning: serving without authentication; anyone on this machine has admin rights", err=True)
    click.echo(f"Metagate on http://{settings.HOST}:{settings.PORT}/graphql (store {settings.STORE})")
    uvicorn.run(
        create_app(settings),
        host=settings.HOST,
        port=settings.PORT,
        log_level=settings.LOG_LEVEL.lower(),
        log_config=None,  # keep the JSON logging configured above
    )


async def _with_store(url: str, work: Any) -> Any:
    from metagate.store.factory import store_from_url

    store = store_from_url(url)
    await store.open()
    try:
        return await work(store)
    finally:
        await store.close()


@main.group()
def token() -> None:
    """Create, list and revoke API tokens."""


_store_option = click.option("--store", default=None, help="Store URL or SQLite path (METAGATE_STORE).")


@token.command("create")
@click.option("--name", required=True, help="Who or what holds the token, e.g. ci-training.")
@click.option("--role", type=click.Choice(["admin", "writer", "reader"]), required=True)
@click.option("--project", "projects", multiple=True, help="Limit a writer to this project (repeatable).")
@_store_option
def token_create(name: str, role: str, projects: tuple[str, ...], store: str | None) -> None:
    """Create a token and print it (shown only this once)."""
    from metagate.gateway.auth import issue
    from metagate.resolvers.authz import Role
    from metagate.store.errors import MetagateError

    settings = config.load().with_(STORE=store)

    async def work(s: Any) -> Any:
        return await issue(s, name=name, role=Role(role), projects=projects)

    try:
        issued = asyncio.run(_with_store(settings.STORE, work))
    except MetagateError as error:
        raise click.ClickException(error.message) from error
    click.echo(issued.secret)


@token.command("list")
@_store_option
def token_list(store: str | None) -> None:
    """List tokens (never their secrets)."""
    settings = config.load().with_(STORE=store)

    async def work(s: Any) -> Any:
        return await s.list_tokens()

    for t in asyncio.run(_with_store(settings.STORE, work)):
        state = f"revoked {t.revoked_at}" if t.revoked_at else "active"
        projects = ",".join(t.projects) or "all projects"
        click.echo(f"{t.id}  {t.role:<6}  {state:<8}  {t.created_at}  {t.name}  ({projects})")


@token.command("revoke")
@click.argument("token_id")
@_store_option
def token_revoke(token_id: str, store: str | None) -> None:
    """Revoke a token by its id (the 16 hex digits after mg_)."""
    from metagate.store.model import utcnow

    settings = config.load().with_(STORE=store)

    async def work(s: Any) -> Any:
        return await s.revoke_token(token_id, utcnow())

    if not asyncio.run(_with_store(settings.STORE, work)):
        raise click.ClickException(f"no active token {token_id}")
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
    from metagate.store.arango_init import init_db as run_init
    from metagate.store.errors import MetagateError

    settings = config.load().with_(STORE=store)
    if not settings.STORE.startswith("arangodb+"):
        # The SQLite store creates and migrates its file on start.
        click.echo("init-db is for ArangoDB stores; the SQLite store sets itself up on start.")
        return
    try:
        arango = parse_url(settings.STORE)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    try:
        done = asyncio.run(run_init(arango))
    except MetagateError as error:
        raise click.ClickException(f"{error.message} ({arango})") from error
    for line in done or ["nothing to do: the database is up to date"]:
        click.echo(line)


@main.command()
@click.option("--store", default=None, help="Store URL or SQLite path (default ./metagate.db).")
def demo(store: str | None) -> None:
    """Load a small, realistic pipeline into the store (running it twice changes nothing)."""
    from metagate.gateway.demo import load_demo

    settings = config.load().with_(STORE=store)
    summary = asyncio.run(load_demo(settings))
    click.echo(summary)

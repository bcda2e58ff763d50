"""The ``metagate`` command."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import sys
from pathlib import Path

import click

from gateway import config


@click.group()
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
def serve(host: str | None, port: int | None, store: str | None, log_level: str | None) -> None:
    """Run the gateway: GraphQL and GraphiQL at /graphql."""
    import uvicorn

    from gateway.app import create_app

    settings = config.load().with_(HOST=host, PORT=port, STORE=store, LOG_LEVEL=log_level)
    logging.basicConfig(
        level=settings.LOG_LEVEL.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    if not _is_loopback(settings.HOST):
        click.echo(
            f"warning: binding {settings.HOST}: the gateway has no authentication yet;"
            " anyone who can reach this address can read and write the store",
            err=True,
        )
    click.echo(f"Metagate on http://{settings.HOST}:{settings.PORT}/graphql (store {settings.STORE})")
    uvicorn.run(
        create_app(settings),
        host=settings.HOST,
        port=settings.PORT,
        log_level=settings.LOG_LEVEL.lower(),
    )


@main.command("export-schema")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of standard output.")
def export_schema(output: Path | None) -> None:
    """Print the GraphQL schema (SDL)."""
    from schema import printed

    text = printed()
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)


@main.command("init-db")
@click.option("--store", default=None, help="arangodb+http://user:password@host:8529/database (METAGATE_STORE).")
def init_db(store: str | None) -> None:
    """Create the ArangoDB database objects Metagate needs (safe to run again)."""
    from store.arango import parse_url
    from store.arango_init import init_db as run_init
    from store.errors import MetagateError

    settings = config.load().with_(STORE=store)
    if not settings.STORE.startswith("arangodb+"):
        # The SQLite store creates and migrates its file on start.
        click.echo("init-db is for ArangoDB stores; the SQLite store sets itself up on start.")
        return
    arango = parse_url(settings.STORE)
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
    from gateway.demo import load_demo

    settings = config.load().with_(STORE=store)
    summary = asyncio.run(load_demo(settings))
    click.echo(summary)

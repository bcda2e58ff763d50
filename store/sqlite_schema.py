"""Versioned schema of the SQLite store. The database's ``PRAGMA user_version`` is the
number of migrations applied; ``apply`` runs the missing ones, each in its own
transaction. Append new migrations; never edit a released one."""

from __future__ import annotations

import aiosqlite

MIGRATIONS: list[str] = [
    # 1: nodes, tags and edges of the pipeline graph
    """
    CREATE TABLE nodes (
        id          TEXT PRIMARY KEY,
        kind        TEXT NOT NULL,
        name        TEXT,
        scope       TEXT NOT NULL DEFAULT '',
        created_at  TEXT NOT NULL,
        tags        TEXT NOT NULL DEFAULT '[]',
        attributes  TEXT NOT NULL DEFAULT '{}',
        fields      TEXT NOT NULL DEFAULT '{}'
    );
    CREATE UNIQUE INDEX nodes_scoped_name ON nodes (kind, scope, name) WHERE name IS NOT NULL;
    CREATE INDEX nodes_kind_name ON nodes (kind, name);
    CREATE INDEX nodes_kind_created ON nodes (kind, created_at, id);
    CREATE INDEX nodes_created ON nodes (created_at);
    CREATE UNIQUE INDEX nodes_run_deployment_tag
        ON nodes (json_extract(fields, '$.deploymentTag'))
        WHERE kind = 'run' AND json_extract(fields, '$.deploymentTag') IS NOT NULL;
    CREATE UNIQUE INDEX nodes_deployment_tag
        ON nodes (json_extract(fields, '$.tag'))
        WHERE kind = 'deployment' AND json_extract(fields, '$.tag') IS NOT NULL;
    CREATE INDEX nodes_run_tag
        ON nodes (json_extract(fields, '$.tag'))
        WHERE kind = 'run' AND json_extract(fields, '$.tag') IS NOT NULL;

    CREATE TABLE node_tags (
        tag      TEXT NOT NULL,
        node_id  TEXT NOT NULL REFERENCES nodes (id),
        PRIMARY KEY (tag, node_id)
    ) WITHOUT ROWID;
    CREATE INDEX node_tags_node ON node_tags (node_id);

    CREATE TABLE edges (
        kind        TEXT NOT NULL,
        from_id     TEXT NOT NULL REFERENCES nodes (id),
        to_id       TEXT NOT NULL REFERENCES nodes (id),
        created_at  TEXT NOT NULL,
        PRIMARY KEY (from_id, kind, to_id)
    ) WITHOUT ROWID;
    CREATE INDEX edges_to ON edges (to_id, kind, from_id);
    """,
    # 2: API tokens (hashes only)
    """
    CREATE TABLE tokens (
        id           TEXT PRIMARY KEY,
        name         TEXT NOT NULL,
        role         TEXT NOT NULL,
        projects     TEXT NOT NULL DEFAULT '[]',
        secret_hash  TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        revoked_at   TEXT
    );
    """,
    # 3: answers of keyed mutations, written in the mutation's own transaction
    """
    CREATE TABLE idempotency (
        key          TEXT PRIMARY KEY,
        fingerprint  TEXT NOT NULL,
        result       TEXT NOT NULL,
        created_at   TEXT NOT NULL
    );
    CREATE INDEX idempotency_created ON idempotency (created_at);
    """,
]


async def apply(conn: aiosqlite.Connection) -> int:
    """Brings the database up to the newest schema; returns its version."""
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    version = int(row[0]) if row else 0
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema version {version} is newer than this Metagate ({len(MIGRATIONS)})"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(script):
                await conn.execute(statement)
            # PRAGMA takes no bind variables; the number is ours, not user input.
            await conn.execute(f"PRAGMA user_version = {int(number)}")
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]

"""Versioned schema of the SQLite store. The database's ``PRAGMA user_version`` is the
number of migrations applied; ``apply`` runs the missing ones, each in its own
transaction. Append new migrations; never edit a released one."""

from __future__ import annotations

import sqlite3

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
    # 4: each run's dev-perf metrics, indexed by name and value, so that runs filtered and
    # ordered by a metric are read in index order instead of computed for every run.
    # Kept by a trigger on the run_devperf edge (a devperf's metrics never change).
    """
    CREATE TABLE run_metrics (
        run_id  TEXT NOT NULL REFERENCES nodes (id),
        name    TEXT NOT NULL,
        value   REAL NOT NULL,
        PRIMARY KEY (run_id, name)
    ) WITHOUT ROWID;
    CREATE INDEX run_metrics_value ON run_metrics (name, value, run_id);
    CREATE TRIGGER run_metrics_from_devperf AFTER INSERT ON edges WHEN NEW.kind = 'run_devperf'
    BEGIN
        INSERT OR IGNORE INTO run_metrics (run_id, name, value)
        SELECT NEW.from_id, m.key, m.value FROM nodes d, json_each(d.fields, '$.metrics') m
         WHERE d.id = NEW.to_id AND m.type IN ('integer', 'real');
    END;
    INSERT OR IGNORE INTO run_metrics (run_id, name, value)
    SELECT e.from_id, m.key, m.value FROM edges e JOIN nodes d ON d.id = e.to_id, json_each(d.fields, '$.metrics') m
     WHERE e.kind = 'run_devperf' AND m.type IN ('integer', 'real')
     ORDER BY e.created_at, e.to_id;
    """,
    # 5: one serving-perf record per deployment and period. A period logged more than once
    # before keeps its oldest record (created_at, then id, as lists order); the newer
    # records leave the graph with their tags and edges but are kept whole, beside the id
    # of the record kept, in servingperf_duplicates: a re-log with other metrics may have
    # been a correction, and a migration does not decide that for the user.
    """
    CREATE TABLE servingperf_duplicates (
        id          TEXT PRIMARY KEY,
        kept_id     TEXT NOT NULL,
        scope       TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        tags        TEXT NOT NULL,
        attributes  TEXT NOT NULL,
        fields      TEXT NOT NULL
    );
    INSERT INTO servingperf_duplicates (id, kept_id, scope, created_at, tags, attributes, fields)
    SELECT id, kept_id, scope, created_at, tags, attributes, fields FROM (
        SELECT n.*, first_value(n.id) OVER (
                   PARTITION BY n.scope, json_extract(n.fields, '$.periodStart'), json_extract(n.fields, '$.periodEnd')
                   ORDER BY n.created_at, n.id) AS kept_id
          FROM nodes n
         WHERE n.kind = 'servingperf'
           AND json_extract(n.fields, '$.periodStart') IS NOT NULL
           AND json_extract(n.fields, '$.periodEnd') IS NOT NULL
    ) WHERE id != kept_id;
    DELETE FROM node_tags WHERE node_id IN (SELECT id FROM servingperf_duplicates);
    DELETE FROM edges
     WHERE from_id IN (SELECT id FROM servingperf_duplicates) OR to_id IN (SELECT id FROM servingperf_duplicates);
    DELETE FROM nodes WHERE id IN (SELECT id FROM servingperf_duplicates);
    CREATE UNIQUE INDEX nodes_serving_period
        ON nodes (scope, json_extract(fields, '$.periodStart'), json_extract(fields, '$.periodEnd'))
        WHERE kind = 'servingperf';
    """,
    # 6: each edge holds the creation times of its two ends, and two indexes give a
    # node's neighbours along an edge kind in the order lineage answers them (kind, time,
    # id): a walk reads the first few of a node's neighbours, not all of its thousands.
    # (A node's creation time never changes. An edge whose end is missing, which only a
    # database written without foreign keys can hold, gets '' and walks first.)
    """
    ALTER TABLE edges ADD COLUMN from_created TEXT NOT NULL DEFAULT '';
    ALTER TABLE edges ADD COLUMN to_created TEXT NOT NULL DEFAULT '';
    UPDATE edges SET from_created = coalesce((SELECT n.created_at FROM nodes n WHERE n.id = edges.from_id), ''),
                     to_created = coalesce((SELECT n.created_at FROM nodes n WHERE n.id = edges.to_id), '');
    DROP INDEX edges_to;
    CREATE INDEX edges_from_order ON edges (from_id, kind, to_created, to_id);
    CREATE INDEX edges_to_order ON edges (to_id, kind, from_created, from_id);
    """,
    # 7: every move of an alias, a deployment's served version, a project's traffic
    # weights: numbered per subject and topic, the number unique (two moves racing for
    # the same number conflict).
    """
    CREATE TABLE history (
        subject  TEXT NOT NULL REFERENCES nodes (id),
        topic    TEXT NOT NULL,
        seq      INTEGER NOT NULL,
        at       TEXT NOT NULL,
        value    TEXT NOT NULL,
        reason   TEXT,
        actor    TEXT,
        PRIMARY KEY (subject, topic, seq)
    ) WITHOUT ROWID;
    """,
    # 8: OpenLineage events as they were received, so that the graph they made can be
    # made again; one received again (the same key) is the same event.
    """
    CREATE TABLE openlineage_events (
        key          TEXT PRIMARY KEY,
        kind         TEXT NOT NULL,
        event_time   TEXT NOT NULL,
        received_at  TEXT NOT NULL,
        event        TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX openlineage_events_received ON openlineage_events (received_at, key);
    """,
    # 9: runs' metric histories, appended and never changed, in (step, timestamp, id)
    # order per run and key; and run_metrics kept up to date when a dev perf's metrics
    # move (a history's latest values), not only when the dev perf is linked.
    """
    CREATE TABLE metric_points (
        run_id     TEXT NOT NULL REFERENCES nodes (id),
        key        TEXT NOT NULL,
        step       INTEGER NOT NULL,
        timestamp  TEXT NOT NULL,
        id         TEXT NOT NULL,
        value      REAL NOT NULL,
        PRIMARY KEY (run_id, key, step, timestamp, id)
    ) WITHOUT ROWID;
    CREATE TRIGGER run_metrics_from_devperf_update AFTER UPDATE OF fields ON nodes WHEN NEW.kind = 'devperf'
    BEGIN
        INSERT OR REPLACE INTO run_metrics (run_id, name, value)
        SELECT e.from_id, m.key, m.value FROM edges e, json_each(NEW.fields, '$.metrics') m
         WHERE e.to_id = NEW.id AND e.kind = 'run_devperf' AND m.type IN ('integer', 'real');
    END;
    """,
    # 10: user-defined kinds. An edge kind's ends are named as declared (a built-in
    # kind's value or a declared kind's name) and as stored (a declared kind's nodes are
    # of kind 'custom'); ``edge`` is the kind its edges have in ``edges``. A lineage walk
    # joins this table: each declared lineage edge kind is followed its own way.
    """
    CREATE TABLE node_kinds (
        name         TEXT PRIMARY KEY,
        description  TEXT,
        schema       TEXT,
        created_at   TEXT NOT NULL
    );
    CREATE TABLE edge_kinds (
        name         TEXT PRIMARY KEY,
        edge         TEXT NOT NULL UNIQUE,
        from_kind    TEXT NOT NULL,
        to_kind      TEXT NOT NULL,
        from_store   TEXT NOT NULL,
        to_store     TEXT NOT NULL,
        upstream     TEXT CHECK (upstream IN ('from', 'to')),
        description  TEXT,
        created_at   TEXT NOT NULL
    );
    """,
    # 11: each metric point keeps its position in its history's (step, timestamp, id)
    # order, the primary key: a history sampled to N points reads those N rows, not all.
    """
    CREATE TABLE metric_points_by_seq (
        run_id     TEXT NOT NULL REFERENCES nodes (id),
        key        TEXT NOT NULL,
        seq        INTEGER NOT NULL,
        step       INTEGER NOT NULL,
        timestamp  TEXT NOT NULL,
        id         TEXT NOT NULL,
        value      REAL NOT NULL,
        PRIMARY KEY (run_id, key, seq)
    ) WITHOUT ROWID;
    INSERT INTO metric_points_by_seq (run_id, key, seq, step, timestamp, id, value)
    SELECT run_id, key, row_number() OVER (PARTITION BY run_id, key ORDER BY step, timestamp, id) - 1,
           step, timestamp, id, value
      FROM metric_points;
    DROP TABLE metric_points;
    ALTER TABLE metric_points_by_seq RENAME TO metric_points;
    """,
    # 12: the change log, one entry per mutation in commit order (seq: the rowid, one more
    # than the highest; nothing removes the newest entry, so no number is given twice),
    # and each entry's mark on each node it is about: a node's history, by kind. Every
    # index costs each mutation a write (bench/results-changelog.md): the filters by
    # operation and by time read the log newest first instead, and the marks name
    # their entry without a foreign key (gc removes both together).
    """
    CREATE TABLE changes (
        seq         INTEGER PRIMARY KEY,
        at          TEXT NOT NULL,
        operation   TEXT,
        token_id    TEXT,
        token_name  TEXT,
        items       TEXT NOT NULL
    );
    CREATE INDEX changes_token ON changes (token_id, seq);

    CREATE TABLE change_nodes (
        node_id  TEXT NOT NULL,
        seq      INTEGER NOT NULL,
        kind     TEXT NOT NULL,
        action   TEXT,
        before   TEXT,
        PRIMARY KEY (node_id, seq)
    ) WITHOUT ROWID;
    CREATE INDEX change_nodes_seq ON change_nodes (seq, kind);
    """,
    # 13: soft delete. A deleted node keeps its row (deleted_at, with the reason given)
    # and its edges, which are hidden with it (gone = 1 while either end is deleted):
    # every read but one by id leaves it out. Its name, unique tag and serving period
    # are free for others: the unique indexes hold live nodes only. The walks' indexes
    # read live edges (gone = 0) in order as before; a deleted node's hidden ones
    # (gone = 1) in order too.
    """
    ALTER TABLE nodes ADD COLUMN deleted_at TEXT;
    ALTER TABLE nodes ADD COLUMN deleted_reason TEXT;
    ALTER TABLE edges ADD COLUMN gone INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX nodes_deleted ON nodes (deleted_at) WHERE deleted_at IS NOT NULL;
    DROP INDEX nodes_scoped_name;
    CREATE UNIQUE INDEX nodes_scoped_name ON nodes (kind, scope, name) WHERE name IS NOT NULL AND deleted_at IS NULL;
    DROP INDEX nodes_run_deployment_tag;
    CREATE UNIQUE INDEX nodes_run_deployment_tag
        ON nodes (json_extract(fields, '$.deploymentTag'))
        WHERE kind = 'run' AND json_extract(fields, '$.deploymentTag') IS NOT NULL AND deleted_at IS NULL;
    DROP INDEX nodes_deployment_tag;
    CREATE UNIQUE INDEX nodes_deployment_tag
        ON nodes (json_extract(fields, '$.tag'))
        WHERE kind = 'deployment' AND json_extract(fields, '$.tag') IS NOT NULL AND deleted_at IS NULL;
    DROP INDEX nodes_serving_period;
    CREATE UNIQUE INDEX nodes_serving_period
        ON nodes (scope, json_extract(fields, '$.periodStart'), json_extract(fields, '$.periodEnd'))
        WHERE kind = 'servingperf' AND deleted_at IS NULL;
    DROP INDEX edges_from_order;
    DROP INDEX edges_to_order;
    CREATE INDEX edges_from_order ON edges (from_id, kind, gone, to_created, to_id);
    CREATE INDEX edges_to_order ON edges (to_id, kind, gone, from_created, from_id);
    """,
    # 14: what the graph as of a time needs beside the change log's marks: each span a
    # node was deleted (restored_at NULL while it still is), and each edge removed (a
    # deployment's served version moved on; one made again in the write that removed it
    # keeps its first span too) with the span it stood. Both are read by key during a
    # walk: a node never deleted is one probe that finds nothing.
    # Made again from the change log for what was written before. The walks' indexes
    # hold each edge's own creation time too: a walk as of a time picks a node's first
    # neighbours that stood then from the index alone, as a walk of now does.
    """
    DROP INDEX edges_from_order;
    DROP INDEX edges_to_order;
    CREATE INDEX edges_from_order ON edges (from_id, kind, gone, to_created, to_id, created_at);
    CREATE INDEX edges_to_order ON edges (to_id, kind, gone, from_created, from_id, created_at);
    CREATE TABLE deletions (
        node_id      TEXT NOT NULL,
        deleted_at   TEXT NOT NULL,
        restored_at  TEXT,
        reason       TEXT,
        PRIMARY KEY (node_id, deleted_at)
    ) WITHOUT ROWID;
    CREATE TABLE removed_edges (
        kind          TEXT NOT NULL,
        from_id       TEXT NOT NULL,
        to_id         TEXT NOT NULL,
        created_at    TEXT NOT NULL,
        removed_at    TEXT NOT NULL,
        from_created  TEXT NOT NULL,
        to_created    TEXT NOT NULL
    );
    CREATE INDEX removed_edges_from ON removed_edges (from_id, kind, to_created, to_id);
    CREATE INDEX removed_edges_to ON removed_edges (to_id, kind, from_created, from_id);
    INSERT OR IGNORE INTO deletions (node_id, deleted_at, restored_at, reason)
    SELECT node_id, CASE WHEN restored_at IS NULL THEN now_deleted ELSE at END, restored_at,
           CASE WHEN restored_at IS NULL THEN now_reason ELSE
           (SELECT i.value ->> '$.after.reason' FROM json_each(items) i
             WHERE i.value ->> '$.action' = 'deleted' AND i.value ->> '$.node' = node_id) END
      FROM (SELECT c.node_id, c.action, h.at, h.items, n.deleted_at AS now_deleted, n.deleted_reason AS now_reason,
                   lead(h.at) OVER (PARTITION BY c.node_id ORDER BY c.seq) AS restored_at
              FROM change_nodes c JOIN changes h ON h.seq = c.seq JOIN nodes n ON n.id = c.node_id
             WHERE c.action IN ('deleted', 'restored'))
     WHERE action = 'deleted' AND (restored_at IS NOT NULL OR now_deleted IS NOT NULL);
    INSERT INTO removed_edges (kind, from_id, to_id, created_at, removed_at, from_created, to_created)
    SELECT i.value ->> '$.edge[0]', i.value ->> '$.edge[1]', i.value ->> '$.edge[2]', i.value ->> '$.before.createdAt',
           coalesce(i.value ->> '$.after.createdAt', h.at),
           coalesce((SELECT n.created_at FROM nodes n WHERE n.id = i.value ->> '$.edge[1]'), ''),
           coalesce((SELECT n.created_at FROM nodes n WHERE n.id = i.value ->> '$.edge[2]'), '')
      FROM changes h, json_each(h.items) i
     WHERE (instr(h.items, '{"action":"deleted","edge":') > 0 OR instr(h.items, '{"action":"changed","edge":') > 0)
       AND i.value ->> '$.action' IN ('deleted', 'changed') AND i.value ->> '$.edge' IS NOT NULL
       AND i.value ->> '$.before.createdAt' IS NOT NULL;
    """,
]


async def apply(conn: aiosqlite.Connection) -> int:
    """Brings the database up to the newest schema; returns its version."""
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    version = int(row[0]) if row else 0
    if version > len(MIGRATIONS):
        raise RuntimeError(f"database schema version {version} is newer than this Metagate ({len(MIGRATIONS)})")
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        await conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process (a worker, a second gateway) may have applied it since the
            # version was read: the version read under the write lock decides.
            async with conn.execute("PRAGMA user_version") as cursor:
                row = await cursor.fetchone()
            if row and int(row[0]) >= number:
                await conn.execute("COMMIT")
                continue
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
    """The script's statements; a trigger's body, with its own semicolons, stays whole."""
    statements: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending.strip())
            pending = ""
    if pending.strip(" \n;"):
        raise ValueError(f"incomplete statement in a migration: {pending.strip()[:80]}")
    return statements

"""The baselines for the GraphQL overhead ratio: the gateway app plus two plain Starlette
JSON routes that serve the same nested deployment answer without GraphQL: one making the
same batched store calls the resolvers made (``/baseline/deployment/{id}``), and one
answering from one hand-written SQL query whose JSON text is the response body
(``/baseline-sql/deployment/{id}``), the bare route of the compiled path's target.

    METAGATE_STORE=graph.db uvicorn --factory bench.baseline:create
"""

from __future__ import annotations

import os
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from metagate.gateway.app import create_app
from metagate.gateway.config import Settings
from metagate.resolvers.ids import decode_id, encode_id
from metagate.store.model import Node, Step
from metagate.store.port import NeighborRequest, Store
from metagate.store.sqlite import SQLiteStore


def _plain(node: Node, **more: Any) -> dict[str, Any]:
    return {"id": encode_id(node.id), "name": node.name, **more}


async def nested_deployment(store: Store, deployment_id: str) -> dict[str, Any] | None:
    [deployment] = await store.get_nodes([deployment_id])
    if deployment is None:
        return None
    model_page, serving_page = await store.neighbors(
        [
            NeighborRequest(deployment.id, "deployment_model", Step.OUT, 1),
            NeighborRequest(deployment.id, "deployment_servingperf", Step.OUT, 1),
        ]
    )
    model = model_page.items[0][0] if model_page.items else None
    runs = []
    if model is not None:
        [run_page] = await store.neighbors([NeighborRequest(model.id, "run_model", Step.IN, 20)])
        run_nodes = [n for n, _ in run_page.items]
        pages = await store.neighbors(
            [
                NeighborRequest(run.id, kind, Step.OUT, 1)
                for run in run_nodes
                for kind in ("run_featureset", "run_devperf", "run_modelparams")
            ]
        )
        firsts = [p.items[0][0] if p.items else None for p in pages]
        featuresets = {f.id: f for f in firsts[0::3] if f is not None}
        dataset_pages = await store.neighbors([NeighborRequest(f, "featureset_dataset", Step.OUT, 1) for f in featuresets])
        datasets = {f: (p.items[0][0] if p.items else None) for f, p in zip(featuresets, dataset_pages)}
        for i, run in enumerate(run_nodes):
            featureset, perf, params = firsts[3 * i : 3 * i + 3]
            dataset = datasets.get(featureset.id) if featureset else None
            runs.append(
                _plain(
                    run,
                    featureset=_plain(featureset, dataset={"name": dataset.name} if dataset else None) if featureset else None,
                    devPerf={"metrics": perf.fields.get("metrics", {})} if perf else None,
                    modelParams={"params": params.fields.get("params", {})} if params else None,
                )
            )
    serving = [
        {"periodStart": n.fields.get("periodStart"), "metrics": n.fields.get("metrics", {})} for n, _ in serving_page.items
    ]
    return {
        "node": {
            "name": deployment.name,
            "model": {"runs": {"nodes": runs}} if model else None,
            "servingPerf": {"nodes": serving},
        }
    }


# The nested deployment answer (bench.run.NESTED) in one statement, written by hand: the
# newest model, its 20 newest runs, each run's newest featureset (and its dataset),
# dev perf and params, and the newest serving perf. mg_time is the store's own encoding
# of a time (registered on every connection).
_NEWEST = "ORDER BY n.created_at DESC, n.id DESC LIMIT 1"
NESTED_SQL = f"""
WITH m AS (SELECT n.id FROM edges e JOIN nodes n ON n.id = e.to_id
           WHERE e.from_id = :id AND e.kind = 'deployment_model' {_NEWEST}),
r AS (SELECT n.id, n.name, n.created_at FROM edges e JOIN nodes n ON n.id = e.from_id
      WHERE e.to_id = (SELECT id FROM m) AND e.kind = 'run_model' ORDER BY n.created_at DESC, n.id DESC LIMIT 20)
SELECT json_object('data', json_object('node', json_object(
  'name', d.name,
  'model', CASE WHEN EXISTS (SELECT 1 FROM m) THEN json_object('runs', json_object('nodes', json((
    SELECT json_group_array(json(x)) FROM (SELECT json_object(
      'name', r.name,
      'featureset', json((SELECT json_object('name', n.name, 'dataset', json((
          SELECT json_object('name', ds.name) FROM edges e2 JOIN nodes ds ON ds.id = e2.to_id
          WHERE e2.from_id = n.id AND e2.kind = 'featureset_dataset' ORDER BY ds.created_at DESC, ds.id DESC LIMIT 1)))
        FROM edges e JOIN nodes n ON n.id = e.to_id WHERE e.from_id = r.id AND e.kind = 'run_featureset' {_NEWEST})),
      'devPerf', json((SELECT json_object('metrics', json(coalesce(json_extract(n.fields, '$.metrics'), '{{}}')))
        FROM edges e JOIN nodes n ON n.id = e.to_id WHERE e.from_id = r.id AND e.kind = 'run_devperf' {_NEWEST})),
      'modelParams', json((SELECT json_object('params', json(coalesce(json_extract(n.fields, '$.params'), '{{}}')))
        FROM edges e JOIN nodes n ON n.id = e.to_id WHERE e.from_id = r.id AND e.kind = 'run_modelparams' {_NEWEST}))
    ) AS x FROM r ORDER BY r.created_at DESC, r.id DESC))))) END,
  'servingPerf', json_object('nodes', json((SELECT json_group_array(json(x)) FROM (
    SELECT json_object('periodStart', mg_time(json_extract(n.fields, '$.periodStart')),
                       'metrics', json(coalesce(json_extract(n.fields, '$.metrics'), '{{}}'))) AS x
    FROM edges e JOIN nodes n ON n.id = e.to_id WHERE e.from_id = d.id AND e.kind = 'deployment_servingperf' {_NEWEST}))))
))) FROM nodes d WHERE d.id = :id AND d.kind = 'deployment'
"""


async def nested_deployment_sql(store: SQLiteStore, deployment_id: str) -> bytes | None:
    async with store._read() as conn:
        rows = await store._reads._rows(conn, NESTED_SQL, {"id": deployment_id})
    return rows[0][0].encode() if rows else None


def create(store: SQLiteStore | None = None) -> Starlette:
    """The app of ``METAGATE_STORE``, or of ``store`` (open already, as the tests give it)."""
    settings = Settings(STORE=os.environ.get("METAGATE_STORE", ":memory:"), AUTH=False)
    app = create_app(settings, store=store)

    async def baseline(request: Request) -> Response:
        answer = await nested_deployment(request.app.state.store, decode_id(request.path_params["id"]))
        return Response(orjson.dumps({"data": answer}), media_type="application/json")

    async def baseline_sql(request: Request) -> Response:
        body = await nested_deployment_sql(request.app.state.store, decode_id(request.path_params["id"]))
        return Response(body, media_type="application/json")

    app.router.routes.append(Route("/baseline/deployment/{id}", baseline))
    app.router.routes.append(Route("/baseline-sql/deployment/{id}", baseline_sql))
    return app

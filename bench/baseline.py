"""The baseline for the GraphQL overhead ratio: the gateway app plus a plain Starlette
JSON route that builds the same nested deployment answer from the same store, with the
same batched store calls, and no GraphQL.

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


def create() -> Starlette:
    settings = Settings(STORE=os.environ["METAGATE_STORE"], AUTH=False)
    app = create_app(settings)

    async def baseline(request: Request) -> Response:
        answer = await nested_deployment(request.app.state.store, decode_id(request.path_params["id"]))
        return Response(orjson.dumps({"data": answer}), media_type="application/json")

    app.router.routes.append(Route("/baseline/deployment/{id}", baseline))
    return app

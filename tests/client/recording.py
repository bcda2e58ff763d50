"""A pipeline step as a user of metagate-client writes it, with nothing else installed:
run by the client's own virtual environment (``venv.client_python()``), it records a run,
reads the lineage back with both clients and prints what it saw as JSON."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import math
import sys

from metagate_client import AsyncClient, BadInput, Client

SUFFIX = sys.argv[1]


async def downstream(dataset_id: str) -> list[str]:
    async with AsyncClient() as mg:
        lineage = await mg.lineage(dataset_id, "downstream", depth=3)
        return sorted({entry.asset.kind for entry in lineage.nodes})


def main() -> None:
    with Client() as mg:  # METAGATE_URL and METAGATE_TOKEN
        with mg.run(
            project=f"venv-{SUFFIX}",
            model=f"venv-model-{SUFFIX}",
            dataset=f"venv-data-{SUFFIX}",
            featureset=f"venv-features-{SUFFIX}",
            name="trial-1",
            deployment_tag=f"venv-prod-{SUFFIX}",
        ) as run:
            run.log_params(alpha=0.5, layers=[64, 32])
            run.log_perf(rmse=0.25)
        try:
            mg.log_run(model=run.logged.run, dataset="d", featureset="f", metrics={"rmse": math.nan})
        except BadInput as error:
            refused = str(error)
        deployment = mg.register_deployment(f"venv-prod-{SUFFIX}", deployment_tag=f"venv-prod-{SUFFIX}")
        upstream = mg.lineage(deployment, "upstream", depth=4)
        dataset = mg.lookup_dataset(f"venv-data-{SUFFIX}")
    print(
        json.dumps(
            {
                "python": list(sys.version_info[:2]),
                "server_importable": importlib.util.find_spec("metagate") is not None,
                "run": run.logged.run.id,
                "upstream": sorted({entry.asset.kind for entry in upstream.nodes}),
                "downstream": asyncio.run(downstream(dataset.id)),
                "refused": refused,
            }
        )
    )


if __name__ == "__main__":
    main()

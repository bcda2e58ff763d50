"""A regression pipeline on scikit-learn's diabetes data, recorded in Metagate: a small
hyper-parameter search (each trial a run), the best trial deployed, and the deployment's
lineage printed at the end.

    METAGATE_URL=http://127.0.0.1:8000 METAGATE_TOKEN=mg_... python examples/diabetes_regression.py
"""

from __future__ import annotations

import itertools

from sklearn.datasets import load_diabetes
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import train_test_split

from metagate_client import Client

PROJECT, MODEL = "diabetes-progression", "diabetes-gbr"
DATASET, FEATURESET = "sklearn-diabetes", "diabetes-all-features"


def main() -> None:
    data = load_diabetes()
    x_train, x_test, y_train, y_test = train_test_split(data.data, data.target, test_size=0.25, random_state=7)
    grid = list(itertools.product([50, 150], [0.05, 0.1], [2, 3]))

    with Client() as mg:  # METAGATE_URL and METAGATE_TOKEN
        results = []
        for number, (n_estimators, learning_rate, max_depth) in enumerate(grid, start=1):
            with mg.run(
                project=PROJECT, model=MODEL, dataset=DATASET, featureset=FEATURESET, name=f"trial-{number}", tag="grid-search"
            ) as run:
                params = {"n_estimators": n_estimators, "learning_rate": learning_rate, "max_depth": max_depth}
                run.log_params(params, random_state=7)
                model = GradientBoostingRegressor(random_state=7, **params).fit(x_train, y_train)
                predicted = model.predict(x_test)
                rmse = mean_squared_error(y_test, predicted) ** 0.5
                run.log_perf(rmse=round(rmse, 4), r2=round(r2_score(y_test, predicted), 4))
            results.append((rmse, run.logged))

        rmse, best = min(results, key=lambda r: r[0])
        # The best trial's params and featureset become the deployment.
        deployment = mg.register_deployment(
            "diabetes-prod",
            model=mg.lookup_model(MODEL),
            featureset=mg.lookup_featureset(FEATURESET),
            model_params=best.model_params,
            tag="diabetes-prod-v1",
        )
        best_runs = mg.execute(
            '{ runs(first: 3, filter: {metric: {name: "rmse", lt: 100}}, '
            'orderBy: {field: METRIC, metric: "rmse", direction: ASC}) { nodes { name devPerf { metrics } } } }'
        )["runs"]["nodes"]
        print("best trials:", ", ".join(f"{r['name']} (rmse {r['devPerf']['metrics']['rmse']})" for r in best_runs))
        lineage = mg.lineage(deployment, "UPSTREAM", depth=4)
        print(f"deployment {deployment.name} (best rmse {rmse:.2f}) stands on:")
        for entry in lineage.nodes:
            print(f"  {'  ' * (entry.depth - 1)}{entry.asset.kind} {entry.asset.name or entry.asset.id}")


if __name__ == "__main__":
    main()

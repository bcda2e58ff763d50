"""A classification pipeline on scikit-learn's wine data, recorded in Metagate: two
candidate models trained, the better one deployed through its run's deployment tag, and
serving accuracy logged for four weekly periods (on held-out batches, as a monitoring job
would); the deployment's lineage is printed at the end.

    METAGATE_URL=http://127.0.0.1:8000 METAGATE_TOKEN=mg_... python examples/wine_classification.py
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from metagate_client import Client

PROJECT, DATASET, FEATURESET = "wine-quality", "sklearn-wine", "wine-scaled-13"
DEPLOYMENT_TAG = "wine-classifier-prod"


def main() -> None:
    data = load_wine()
    x_train, x_serve, y_train, y_serve = train_test_split(
        data.data, data.target, test_size=0.4, random_state=3, stratify=data.target
    )
    candidates = {"wine-logreg-c0.1": 0.1, "wine-logreg-c10": 10.0}

    with Client() as mg:  # METAGATE_URL and METAGATE_TOKEN
        scores = {}
        for model_name, c in candidates.items():
            pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
            pipeline.fit(x_train, y_train)
            scores[model_name] = (accuracy_score(y_train, pipeline.predict(x_train)), pipeline)
        winner = max(scores, key=lambda name: scores[name][0])

        for model_name, c in candidates.items():
            accuracy, pipeline = scores[model_name]
            with mg.run(
                project=PROJECT,
                model=model_name,
                dataset=DATASET,
                featureset=FEATURESET,
                name="train-1",
                deployment_tag=DEPLOYMENT_TAG if model_name == winner else None,
            ) as run:
                run.log_params(C=c, scaler="standard", solver="lbfgs")
                run.log_perf(train_accuracy=round(accuracy, 4))

        deployment = mg.register_deployment("wine-prod", deployment_tag=DEPLOYMENT_TAG)
        pipeline = scores[winner][1]
        week = dt.timedelta(days=7)
        start = dt.datetime(2026, 11, 2)  # naive: the client takes it as UTC
        for number, batch in enumerate(np.array_split(np.arange(len(y_serve)), 4)):
            predicted = pipeline.predict(x_serve[batch])
            mg.log_serving_perf(
                deployment_tag=DEPLOYMENT_TAG,
                period_start=start + number * week,
                period_end=start + (number + 1) * week,
                metrics={
                    "accuracy": round(accuracy_score(y_serve[batch], predicted), 4),
                    "macro_f1": round(f1_score(y_serve[batch], predicted, average="macro"), 4),
                    "requests": int(len(batch)),
                },
            )

        lineage = mg.lineage(deployment, "BOTH", depth=3)
        print(f"deployment {deployment.name} ({winner}):")
        for entry in sorted(lineage.nodes, key=lambda e: (e.direction, e.depth, e.asset.kind)):
            print(f"  {entry.direction:<10} depth {entry.depth}  {entry.asset.kind} {entry.asset.name or entry.asset.id}")


if __name__ == "__main__":
    main()

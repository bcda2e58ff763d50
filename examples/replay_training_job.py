"""A train job recorded in Metagate and replayed exactly from its snapshot.

A pipeline records a TRAIN job: what to train (the spec), its environment, image and
hardware. A small executor takes PENDING jobs, trains what the job's snapshot says (and
nothing else), logs the run, registers the model version and reports the job SUCCEEDED.
Then the job is replayed: a new PENDING job with the same snapshot, which the executor
runs in the same way. The replayed run's metrics equal the original's.

    METAGATE_URL=http://127.0.0.1:8000 METAGATE_TOKEN=mg_... python examples/replay_training_job.py
"""

from __future__ import annotations

import sys
import uuid
from typing import Any

from sklearn.datasets import load_diabetes, load_wine
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
from sklearn.metrics import accuracy_score, mean_squared_error
from sklearn.model_selection import train_test_split

from metagate_client import Client, Job

PROJECT, MODEL = "replayed-training", "diabetes-gbr"
DATASET, FEATURESET = "sklearn-diabetes", "diabetes-all-features"
# What an executor may run: a job's spec names one of these, never code.
ESTIMATORS: dict[str, Any] = {
    "GradientBoostingRegressor": GradientBoostingRegressor,
    "RandomForestClassifier": RandomForestClassifier,
}
DATASETS = {"diabetes": load_diabetes, "wine": load_wine}


def train(spec: dict[str, Any]) -> dict[str, float]:
    """Trains what the spec says; its random_state makes the same spec give the same model."""
    data = DATASETS[spec["dataset"]]()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=spec["test_size"], random_state=spec["random_state"]
    )
    estimator = ESTIMATORS[spec["estimator"]](random_state=spec["random_state"], **spec["params"])
    predicted = estimator.fit(x_train, y_train).predict(x_test)
    if spec["dataset"] == "wine":
        return {"accuracy": round(float(accuracy_score(y_test, predicted)), 6)}
    return {"rmse": round(float(mean_squared_error(y_test, predicted)) ** 0.5, 6)}


def execute(mg: Client, job: Job, model: Any, dataset: Any, featureset: Any) -> dict[str, float]:
    """One job, from its snapshot alone: RUNNING, a run and its version, SUCCEEDED."""
    mg.update_job_status(job, "running")
    try:
        metrics = train(job.spec)
    except Exception as error:
        mg.update_job_status(job, "failed", message=f"{type(error).__name__}: {error}")
        raise
    logged = mg.log_run(
        model=model,
        dataset=dataset,
        featureset=featureset,
        params=job.spec["params"],
        metrics=metrics,
        name=f"job-{job.id[-8:]}",
        attributes={"image": job.image, "job": job.id},
    )
    mg.register_model_version(model, logged.run, f"{job.model_path}{logged.run.id}/")
    mg.update_job_status(job, "succeeded", run=logged.run, message=f"metrics {metrics}")
    return metrics


def main() -> int:
    suffix = uuid.uuid4().hex[:6]  # each run of the example records its own job
    with Client() as mg:  # METAGATE_URL and METAGATE_TOKEN
        project = mg.create_project(PROJECT)
        dataset = mg.register_dataset(DATASET, attributes={"source": "sklearn.datasets.load_diabetes"})
        featureset = mg.register_featureset(FEATURESET, dataset)
        model = mg.register_model(MODEL, project, task="regression", framework="scikit-learn")
        original = mg.create_job(
            project,
            "train",
            model=model,
            spec={
                "estimator": "GradientBoostingRegressor",
                "params": {"n_estimators": 120, "learning_rate": 0.05, "max_depth": 3, "subsample": 0.8},
                "dataset": "diabetes",
                "test_size": 0.25,
                "random_state": 7,
                "request": suffix,
            },
            env={"PYTHONHASHSEED": "0", "REGISTRY_TOKEN": "secret:model-registry"},
            image="python:3.11-slim",
            model_path="s3://models/diabetes-gbr/",
            hardware={"instance_type": "m5.large", "cpu": 2, "memory_gb": 8, "count": 1},
        )

        # The executor: every PENDING job of the project, oldest first.
        results: dict[str, dict[str, float]] = {}
        for job in mg.jobs(status="pending", project=project):
            results[job.id] = execute(mg, job, model, dataset, featureset)
        replay = mg.replay_job(original)
        for job in mg.jobs(status="pending", project=project):
            results[job.id] = execute(mg, job, model, dataset, featureset)

        print(f"job {original.id}: {results[original.id]}")
        print(f"replay {replay.id} of {replay.replay_of}: {results[replay.id]}")
        same = replay.spec == original.spec and replay.env == original.env and replay.image == original.image
        if not same or results[replay.id] != results[original.id]:
            print("the replay differs from its original", file=sys.stderr)
            return 1
        print("the replayed run's metrics equal the original's")
        return 0


if __name__ == "__main__":
    sys.exit(main())

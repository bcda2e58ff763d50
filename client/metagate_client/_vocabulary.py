"""The gateway's data dictionary, as the client knows it: written by `make vocabulary`
from the gateway's store/model.py (do not edit); the gateway's tests hold it to the
dictionary."""

KINDS = (
    "project",
    "dataset",
    "featureset",
    "run",
    "model",
    "modelparams",
    "devperf",
    "deployment",
    "servingperf",
    "modelversion",
    "job",
)
EDGE_KINDS = (
    "featureset_dataset",
    "run_dataset",
    "run_featureset",
    "run_modelparams",
    "run_model",
    "run_devperf",
    "deployment_model",
    "deployment_featureset",
    "deployment_modelparams",
    "deployment_servingperf",
    "project_model",
    "modelversion_model",
    "modelversion_run",
    "deployment_modelversion",
    "job_project",
    "job_model",
    "job_deployment",
    "job_replayof",
    "run_job",
)
TYPES = {
    "project": "Project",
    "dataset": "Dataset",
    "featureset": "Featureset",
    "run": "Run",
    "model": "Model",
    "modelparams": "ModelParams",
    "devperf": "DevPerf",
    "deployment": "Deployment",
    "servingperf": "ServingPerf",
    "modelversion": "ModelVersion",
    "job": "Job",
}
NAVIGATION = {
    "project": ("models", "jobs"),
    "dataset": ("featuresets", "runs"),
    "featureset": ("dataset", "runs", "deployments"),
    "run": ("dataset", "featureset", "modelParams", "devPerf", "model", "modelVersions", "job"),
    "model": ("project", "runs", "deployments", "versions", "jobs"),
    "modelparams": ("run", "deployments"),
    "devperf": ("run",),
    "deployment": ("model", "modelVersion", "jobs", "featureset", "modelParams", "servingPerf"),
    "servingperf": ("deployment",),
    "modelversion": ("model", "run", "deployments"),
    "job": ("project", "model", "deployment", "replayOf", "replays", "run"),
}

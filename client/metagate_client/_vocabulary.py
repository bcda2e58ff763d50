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
}
NAVIGATION = {
    "project": ("models",),
    "dataset": ("featuresets", "runs"),
    "featureset": ("dataset", "runs", "deployments"),
    "run": ("dataset", "featureset", "modelParams", "devPerf", "model", "modelVersions"),
    "model": ("project", "runs", "deployments", "versions"),
    "modelparams": ("run", "deployments"),
    "devperf": ("run",),
    "deployment": ("model", "modelVersion", "featureset", "modelParams", "servingPerf"),
    "servingperf": ("deployment",),
    "modelversion": ("model", "run", "deployments"),
}

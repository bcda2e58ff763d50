// The gateway's data dictionary, as the web UI knows it: written by `make vocabulary`
// from the gateway's store/model.py (do not edit); the gateway's tests hold it to the
// dictionary.

// Each edge kind's upstream end: the node the other was derived from (null: grouping only).
export const UPSTREAM_END: Record<string, "from" | "to" | null> = {
  FEATURESET_DATASET: "to",
  RUN_DATASET: "to",
  RUN_FEATURESET: "to",
  RUN_MODELPARAMS: "to",
  RUN_MODEL: "from",
  RUN_DEVPERF: "from",
  DEPLOYMENT_MODEL: "to",
  DEPLOYMENT_FEATURESET: "to",
  DEPLOYMENT_MODELPARAMS: "to",
  DEPLOYMENT_SERVINGPERF: "from",
  PROJECT_MODEL: null,
  MODELVERSION_MODEL: null,
  MODELVERSION_RUN: "to",
  DEPLOYMENT_MODELVERSION: "to",
  JOB_PROJECT: null,
  JOB_MODEL: null,
  JOB_DEPLOYMENT: null,
  JOB_REPLAYOF: "to",
  RUN_JOB: "to",
  STEP_INPUT_DATASET: "to",
  STEP_INPUT_FEATURESET: "to",
  STEP_INPUT_MODELVERSION: "to",
  STEP_INPUT_MODEL: "to",
  STEP_INPUT_DEPLOYMENT: "to",
  STEP_OUTPUT_DATASET: "from",
  STEP_OUTPUT_FEATURESET: "from",
  STEP_OUTPUT_MODELVERSION: "from",
  STEP_OUTPUT_MODEL: "from",
  STEP_OUTPUT_DEPLOYMENT: "from",
  STEP_JOB: null,
  STEP_RUN: null,
  STEP_PARENT: null,
};

// Each kind's GraphQL type.
export const TYPES: Record<string, string> = {
  PROJECT: "Project",
  DATASET: "Dataset",
  FEATURESET: "Featureset",
  RUN: "Run",
  MODEL: "Model",
  MODELPARAMS: "ModelParams",
  DEVPERF: "DevPerf",
  DEPLOYMENT: "Deployment",
  SERVINGPERF: "ServingPerf",
  MODELVERSION: "ModelVersion",
  JOB: "Job",
  STEP: "Step",
  CUSTOM: "CustomNode",
};

WITH RECURSIVE 
  m1 AS (SELECT to_id AS id FROM edges WHERE from_id = :p0 AND kind = 'project_model' AND gone = 0),
  r2 AS (SELECT e.from_id AS id FROM m1 m JOIN edges e ON e.to_id = m.id AND e.kind = 'run_model' AND e.gone = 0),
  o3 AS (SELECT n.id, json_object(:p1, n.name) AS j FROM nodes n WHERE n.id IN (SELECT :p0)),
  -- A kinds filter's mask knows the built-in edge kinds only: with declared lineage
  -- edges (which may lead from any kind to any), every step is taken.
  w4_mask(m) AS (
    SELECT CASE WHEN :p11 IS NOT NULL AND EXISTS (SELECT 1 FROM edge_kinds WHERE upstream IS NOT NULL)
                THEN -1 ELSE :p10 END
  ),
  w4_walk(id, dir, depth, kind, created) AS (
    SELECT n.id, d.value, 0, n.kind, n.created_at FROM nodes n, json_each(:p7) d WHERE n.id = :p6
    UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'dataset', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'featureset_dataset' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'featureset_dataset' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 1 AND w.dir = 'upstream' AND w.kind = 'featureset' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'featureset', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'featureset_dataset' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'featureset_dataset' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 2 AND w.dir = 'downstream' AND w.kind = 'dataset' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'dataset', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'run_dataset' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'run_dataset' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 4 AND w.dir = 'upstream' AND w.kind = 'run' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'run', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'run_dataset' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'run_dataset' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 8 AND w.dir = 'downstream' AND w.kind = 'dataset' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'featureset', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'run_featureset' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'run_featureset' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 16 AND w.dir = 'upstream' AND w.kind = 'run' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'run', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'run_featureset' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'run_featureset' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 32 AND w.dir = 'downstream' AND w.kind = 'featureset' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'modelparams', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'run_modelparams' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'run_modelparams' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 64 AND w.dir = 'upstream' AND w.kind = 'run' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'run', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'run_modelparams' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'run_modelparams' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 128 AND w.dir = 'downstream' AND w.kind = 'modelparams' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'run', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'run_model' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'run_model' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 256 AND w.dir = 'upstream' AND w.kind = 'model' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'model', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'run_model' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'run_model' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 512 AND w.dir = 'downstream' AND w.kind = 'run' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'run', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'run_devperf' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'run_devperf' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 1024 AND w.dir = 'upstream' AND w.kind = 'devperf' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'devperf', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'run_devperf' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'run_devperf' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 2048 AND w.dir = 'downstream' AND w.kind = 'run' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'model', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'deployment_model' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'deployment_model' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 4096 AND w.dir = 'upstream' AND w.kind = 'deployment' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'deployment', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'deployment_model' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'deployment_model' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 8192 AND w.dir = 'downstream' AND w.kind = 'model' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'featureset', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'deployment_featureset' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'deployment_featureset' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 16384 AND w.dir = 'upstream' AND w.kind = 'deployment' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'deployment', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'deployment_featureset' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'deployment_featureset' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 32768 AND w.dir = 'downstream' AND w.kind = 'featureset' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'modelparams', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'deployment_modelparams' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'deployment_modelparams' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 65536 AND w.dir = 'upstream' AND w.kind = 'deployment' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'deployment', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'deployment_modelparams' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'deployment_modelparams' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 131072 AND w.dir = 'downstream' AND w.kind = 'modelparams' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'deployment', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'deployment_servingperf' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'deployment_servingperf' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 262144 AND w.dir = 'upstream' AND w.kind = 'servingperf' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'servingperf', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'deployment_servingperf' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'deployment_servingperf' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 524288 AND w.dir = 'downstream' AND w.kind = 'deployment' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'run', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'modelversion_run' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'modelversion_run' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 1048576 AND w.dir = 'upstream' AND w.kind = 'modelversion' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'modelversion', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'modelversion_run' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'modelversion_run' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 2097152 AND w.dir = 'downstream' AND w.kind = 'run' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'modelversion', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'deployment_modelversion' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'deployment_modelversion' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 4194304 AND w.dir = 'upstream' AND w.kind = 'deployment' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'deployment', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'deployment_modelversion' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'deployment_modelversion' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 8388608 AND w.dir = 'downstream' AND w.kind = 'modelversion' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'job', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'job_replayof' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'job_replayof' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 16777216 AND w.dir = 'upstream' AND w.kind = 'job' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'job', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'job_replayof' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'job_replayof' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 33554432 AND w.dir = 'downstream' AND w.kind = 'job' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'job', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'run_job' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'run_job' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 67108864 AND w.dir = 'upstream' AND w.kind = 'run' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'run', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'run_job' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'run_job' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 134217728 AND w.dir = 'downstream' AND w.kind = 'job' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'dataset', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'step_input_dataset' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'step_input_dataset' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 268435456 AND w.dir = 'upstream' AND w.kind = 'step' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'step', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'step_input_dataset' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'step_input_dataset' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 536870912 AND w.dir = 'downstream' AND w.kind = 'dataset' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'featureset', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'step_input_featureset' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'step_input_featureset' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 1073741824 AND w.dir = 'upstream' AND w.kind = 'step' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'step', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'step_input_featureset' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'step_input_featureset' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 2147483648 AND w.dir = 'downstream' AND w.kind = 'featureset' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'modelversion', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'step_input_modelversion' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'step_input_modelversion' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 4294967296 AND w.dir = 'upstream' AND w.kind = 'step' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'step', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'step_input_modelversion' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'step_input_modelversion' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 8589934592 AND w.dir = 'downstream' AND w.kind = 'modelversion' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'model', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'step_input_model' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'step_input_model' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 17179869184 AND w.dir = 'upstream' AND w.kind = 'step' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'step', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'step_input_model' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'step_input_model' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 34359738368 AND w.dir = 'downstream' AND w.kind = 'model' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'deployment', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'step_input_deployment' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'step_input_deployment' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 68719476736 AND w.dir = 'upstream' AND w.kind = 'step' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'step', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'step_input_deployment' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'step_input_deployment' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 137438953472 AND w.dir = 'downstream' AND w.kind = 'deployment' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'step', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'step_output_dataset' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'step_output_dataset' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 274877906944 AND w.dir = 'upstream' AND w.kind = 'dataset' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'dataset', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'step_output_dataset' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'step_output_dataset' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 549755813888 AND w.dir = 'downstream' AND w.kind = 'step' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'step', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'step_output_featureset' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'step_output_featureset' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 1099511627776 AND w.dir = 'upstream' AND w.kind = 'featureset' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'featureset', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'step_output_featureset' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'step_output_featureset' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 2199023255552 AND w.dir = 'downstream' AND w.kind = 'step' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'step', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'step_output_modelversion' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'step_output_modelversion' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 4398046511104 AND w.dir = 'upstream' AND w.kind = 'modelversion' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'modelversion', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'step_output_modelversion' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'step_output_modelversion' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 8796093022208 AND w.dir = 'downstream' AND w.kind = 'step' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'step', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'step_output_model' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'step_output_model' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 17592186044416 AND w.dir = 'upstream' AND w.kind = 'model' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'model', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'step_output_model' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'step_output_model' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 35184372088832 AND w.dir = 'downstream' AND w.kind = 'step' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'step', e.from_created
      FROM w4_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'step_output_deployment' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'step_output_deployment' AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 70368744177664 AND w.dir = 'upstream' AND w.kind = 'deployment' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'deployment', e.to_created
      FROM w4_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'step_output_deployment' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'step_output_deployment' AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 140737488355328 AND w.dir = 'downstream' AND w.kind = 'step' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, k.to_store, e.to_created
      FROM w4_walk w CROSS JOIN edge_kinds k CROSS JOIN edges e
        ON k.from_store = w.kind AND k.upstream = 'to'
       AND e.from_id = w.id AND e.kind = k.edge AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = k.edge AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 281474976710656 AND w.dir = 'upstream' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, k.from_store, e.from_created
      FROM w4_walk w CROSS JOIN edge_kinds k CROSS JOIN edges e
        ON k.to_store = w.kind AND k.upstream = 'from'
       AND e.to_id = w.id AND e.kind = k.edge AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = k.edge AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 562949953421312 AND w.dir = 'upstream' AND w.depth < :p13 UNION
    SELECT e.to_id, w.dir, w.depth + 1, k.to_store, e.to_created
      FROM w4_walk w CROSS JOIN edge_kinds k CROSS JOIN edges e
        ON k.from_store = w.kind AND k.upstream = 'from'
       AND e.from_id = w.id AND e.kind = k.edge AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = k.edge AND x.gone = 0 ORDER BY x.to_created, x.to_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 1125899906842624 AND w.dir = 'downstream' AND w.depth < :p13 UNION
    SELECT e.from_id, w.dir, w.depth + 1, k.from_store, e.from_created
      FROM w4_walk w CROSS JOIN edge_kinds k CROSS JOIN edges e
        ON k.to_store = w.kind AND k.upstream = 'to'
       AND e.to_id = w.id AND e.kind = k.edge AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = k.edge AND x.gone = 0 ORDER BY x.from_created, x.from_id LIMIT :p9)
     WHERE (SELECT m FROM w4_mask) & 2251799813685248 AND w.dir = 'downstream' AND w.depth < :p13
    ORDER BY 3, 4, 5, 1
    LIMIT :p8
  ),
  w4_walked(rows) AS (
    SELECT count(*) FROM w4_walk
  ),
  w4_ranked(id, dir, depth, rn) AS (
    SELECT id, dir, depth, ROW_NUMBER() OVER (ORDER BY depth, kind, created, id) FROM (
      SELECT id, dir, MIN(depth) AS depth, kind, created FROM w4_walk WHERE depth > 0 AND id != :p6 GROUP BY id, dir
    )
     WHERE :p11 IS NULL OR kind IN (SELECT value FROM json_each(:p11))
     ORDER BY 4
     LIMIT :p12 + 1
  ),
  -- Whole rows for the nodes answered only: the ranking sorts keys, not documents.
  w4_picked AS (
    SELECT r.depth, r.dir, r.rn, n.id, n.kind, n.name, n.scope, n.created_at, n.tags, n.attributes, n.fields, n.deleted_at, n.deleted_reason FROM w4_ranked r JOIN nodes n ON n.id = r.id
  ),
  w4_kept(id, dir, depth, kind) AS (
    SELECT id, dir, depth, kind FROM w4_picked WHERE rn <= :p12
    UNION ALL
    SELECT id, dir, depth, kind FROM w4_walk WHERE depth = 0
  ),
  w4_followed(kind, from_id, to_id, created_at) AS (
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w4_kept a CROSS JOIN (SELECT column1 AS edge, column2 AS dir, column3 AS fk, column4 AS tk, column5 AS wa FROM (VALUES ('featureset_dataset', 'upstream', 'featureset', 'dataset', 1), ('featureset_dataset', 'downstream', 'featureset', 'dataset', 0), ('run_dataset', 'upstream', 'run', 'dataset', 1), ('run_dataset', 'downstream', 'run', 'dataset', 0), ('run_featureset', 'upstream', 'run', 'featureset', 1), ('run_featureset', 'downstream', 'run', 'featureset', 0), ('run_modelparams', 'upstream', 'run', 'modelparams', 1), ('run_modelparams', 'downstream', 'run', 'modelparams', 0), ('run_model', 'upstream', 'run', 'model', 0), ('run_model', 'downstream', 'run', 'model', 1), ('run_devperf', 'upstream', 'run', 'devperf', 0), ('run_devperf', 'downstream', 'run', 'devperf', 1), ('deployment_model', 'upstream', 'deployment', 'model', 1), ('deployment_model', 'downstream', 'deployment', 'model', 0), ('deployment_featureset', 'upstream', 'deployment', 'featureset', 1), ('deployment_featureset', 'downstream', 'deployment', 'featureset', 0), ('deployment_modelparams', 'upstream', 'deployment', 'modelparams', 1), ('deployment_modelparams', 'downstream', 'deployment', 'modelparams', 0), ('modelversion_run', 'upstream', 'modelversion', 'run', 1), ('modelversion_run', 'downstream', 'modelversion', 'run', 0), ('deployment_modelversion', 'upstream', 'deployment', 'modelversion', 1), ('deployment_modelversion', 'downstream', 'deployment', 'modelversion', 0), ('job_replayof', 'upstream', 'job', 'job', 1), ('job_replayof', 'downstream', 'job', 'job', 0), ('run_job', 'upstream', 'run', 'job', 1), ('run_job', 'downstream', 'run', 'job', 0), ('step_input_dataset', 'upstream', 'step', 'dataset', 1), ('step_input_dataset', 'downstream', 'step', 'dataset', 0), ('step_input_featureset', 'upstream', 'step', 'featureset', 1), ('step_input_featureset', 'downstream', 'step', 'featureset', 0), ('step_input_modelversion', 'upstream', 'step', 'modelversion', 1), ('step_input_modelversion', 'downstream', 'step', 'modelversion', 0), ('step_input_model', 'upstream', 'step', 'model', 1), ('step_input_model', 'downstream', 'step', 'model', 0), ('step_input_deployment', 'upstream', 'step', 'deployment', 1), ('step_input_deployment', 'downstream', 'step', 'deployment', 0), ('step_output_dataset', 'upstream', 'step', 'dataset', 0), ('step_output_dataset', 'downstream', 'step', 'dataset', 1), ('step_output_featureset', 'upstream', 'step', 'featureset', 0), ('step_output_featureset', 'downstream', 'step', 'featureset', 1), ('step_output_modelversion', 'upstream', 'step', 'modelversion', 0), ('step_output_modelversion', 'downstream', 'step', 'modelversion', 1), ('step_output_model', 'upstream', 'step', 'model', 0), ('step_output_model', 'downstream', 'step', 'model', 1), ('step_output_deployment', 'upstream', 'step', 'deployment', 0), ('step_output_deployment', 'downstream', 'step', 'deployment', 1))) s CROSS JOIN edges e CROSS JOIN w4_kept b
     WHERE a.dir = s.dir AND a.kind = s.fk AND b.dir = s.dir AND b.kind = s.tk
       AND iif(s.wa, a.depth, b.depth) < :p13
       AND e.from_id = a.id AND e.kind = s.edge AND e.to_id = b.id AND e.gone = 0 UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w4_kept b CROSS JOIN (SELECT column1 AS edge, column2 AS dir, column3 AS fk, column4 AS tk, column5 AS wa FROM (VALUES ('deployment_servingperf', 'upstream', 'deployment', 'servingperf', 0), ('deployment_servingperf', 'downstream', 'deployment', 'servingperf', 1))) s CROSS JOIN edges e CROSS JOIN w4_kept a
     WHERE a.dir = s.dir AND a.kind = s.fk AND b.dir = s.dir AND b.kind = s.tk
       AND iif(s.wa, a.depth, b.depth) < :p13
       AND e.from_id = a.id AND e.kind = s.edge AND e.to_id = b.id AND e.gone = 0 UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at
      FROM w4_kept a CROSS JOIN edge_kinds k CROSS JOIN edges e CROSS JOIN w4_kept b
     WHERE k.upstream IS NOT NULL AND a.kind = k.from_store AND b.dir = a.dir AND b.kind = k.to_store
       AND iif((a.dir = 'upstream') = (k.upstream = 'to'), a.depth, b.depth) < :p13
       AND e.from_id = a.id AND e.kind = k.edge AND e.to_id = b.id AND e.gone = 0
  ),
  o5 AS (SELECT n.id, json_object(:p14, mg_id(n.id)) AS j FROM nodes n WHERE n.id IN (SELECT id FROM w4_picked WHERE rn <= :p12))
SELECT EXISTS (SELECT 1 FROM nodes WHERE id = :p0 AND kind = 'project') AND EXISTS (SELECT 1 FROM nodes WHERE id = :p6), json_object(:p17, json_object(:p2, json((SELECT j FROM o3 WHERE id = :p0)), :p3, (SELECT count(*) FROM m1), :p4, (SELECT count(*) FROM r2), :p5, (SELECT count(DISTINCT e.from_id) FROM m1 x JOIN edges e ON e.to_id = x.id AND e.kind = 'deployment_model' AND e.gone = 0)), :p18, json_object(:p16, json((SELECT json_group_array(json_object(:p15, json((SELECT j FROM o5 WHERE id = x.id)))) FROM (SELECT * FROM w4_picked WHERE rn <= :p12 ORDER BY rn) x)))), (SELECT rows FROM w4_walked), (SELECT count(*) FROM w4_picked)

WITH RECURSIVE 
  -- A kinds filter's mask knows the built-in edge kinds only: with declared lineage
  -- edges (which may lead from any kind to any), every step is taken.
  w1_mask(m) AS (
    SELECT CASE WHEN :p4 IS NOT NULL AND EXISTS (SELECT 1 FROM edge_kinds WHERE upstream IS NOT NULL)
                THEN -1 ELSE :p3 END
  ),
  w1_walk(id, dir, depth, kind, created) AS (
    SELECT n.id, d.value, 0, n.kind, n.created_at FROM nodes n, json_each(:p1) d WHERE n.id = :p0
    UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'dataset', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'featureset_dataset' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 1 AND w.dir = 'upstream' AND w.kind = 'featureset' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'featureset', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'featureset_dataset' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 2 AND w.dir = 'downstream' AND w.kind = 'dataset' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'dataset', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'run_dataset' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 4 AND w.dir = 'upstream' AND w.kind = 'run' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'run', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'run_dataset' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 8 AND w.dir = 'downstream' AND w.kind = 'dataset' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'featureset', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'run_featureset' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 16 AND w.dir = 'upstream' AND w.kind = 'run' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'run', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'run_featureset' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 32 AND w.dir = 'downstream' AND w.kind = 'featureset' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'modelparams', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'run_modelparams' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 64 AND w.dir = 'upstream' AND w.kind = 'run' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'run', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'run_modelparams' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 128 AND w.dir = 'downstream' AND w.kind = 'modelparams' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'run', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'run_model' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 256 AND w.dir = 'upstream' AND w.kind = 'model' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'model', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'run_model' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 512 AND w.dir = 'downstream' AND w.kind = 'run' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'run', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'run_devperf' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 1024 AND w.dir = 'upstream' AND w.kind = 'devperf' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'devperf', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'run_devperf' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 2048 AND w.dir = 'downstream' AND w.kind = 'run' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'model', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'deployment_model' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 4096 AND w.dir = 'upstream' AND w.kind = 'deployment' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'deployment', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'deployment_model' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 8192 AND w.dir = 'downstream' AND w.kind = 'model' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'featureset', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'deployment_featureset' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 16384 AND w.dir = 'upstream' AND w.kind = 'deployment' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'deployment', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'deployment_featureset' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 32768 AND w.dir = 'downstream' AND w.kind = 'featureset' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'modelparams', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'deployment_modelparams' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 65536 AND w.dir = 'upstream' AND w.kind = 'deployment' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'deployment', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'deployment_modelparams' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 131072 AND w.dir = 'downstream' AND w.kind = 'modelparams' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'deployment', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'deployment_servingperf' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 262144 AND w.dir = 'upstream' AND w.kind = 'servingperf' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'servingperf', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'deployment_servingperf' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 524288 AND w.dir = 'downstream' AND w.kind = 'deployment' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'run', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'modelversion_run' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 1048576 AND w.dir = 'upstream' AND w.kind = 'modelversion' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'modelversion', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'modelversion_run' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 2097152 AND w.dir = 'downstream' AND w.kind = 'run' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'modelversion', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'deployment_modelversion' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 4194304 AND w.dir = 'upstream' AND w.kind = 'deployment' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'deployment', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'deployment_modelversion' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 8388608 AND w.dir = 'downstream' AND w.kind = 'modelversion' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'job', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'job_replayof' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 16777216 AND w.dir = 'upstream' AND w.kind = 'job' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'job', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'job_replayof' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 33554432 AND w.dir = 'downstream' AND w.kind = 'job' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'job', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'run_job' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 67108864 AND w.dir = 'upstream' AND w.kind = 'run' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'run', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'run_job' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 134217728 AND w.dir = 'downstream' AND w.kind = 'job' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'dataset', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'step_input_dataset' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 268435456 AND w.dir = 'upstream' AND w.kind = 'step' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'step', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'step_input_dataset' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 536870912 AND w.dir = 'downstream' AND w.kind = 'dataset' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'featureset', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'step_input_featureset' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 1073741824 AND w.dir = 'upstream' AND w.kind = 'step' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'step', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'step_input_featureset' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 2147483648 AND w.dir = 'downstream' AND w.kind = 'featureset' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'modelversion', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'step_input_modelversion' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 4294967296 AND w.dir = 'upstream' AND w.kind = 'step' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'step', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'step_input_modelversion' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 8589934592 AND w.dir = 'downstream' AND w.kind = 'modelversion' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'model', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'step_input_model' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 17179869184 AND w.dir = 'upstream' AND w.kind = 'step' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'step', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'step_input_model' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 34359738368 AND w.dir = 'downstream' AND w.kind = 'model' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'deployment', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'step_input_deployment' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 68719476736 AND w.dir = 'upstream' AND w.kind = 'step' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'step', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'step_input_deployment' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 137438953472 AND w.dir = 'downstream' AND w.kind = 'deployment' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'step', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'step_output_dataset' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 274877906944 AND w.dir = 'upstream' AND w.kind = 'dataset' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'dataset', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'step_output_dataset' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 549755813888 AND w.dir = 'downstream' AND w.kind = 'step' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'step', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'step_output_featureset' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 1099511627776 AND w.dir = 'upstream' AND w.kind = 'featureset' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'featureset', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'step_output_featureset' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 2199023255552 AND w.dir = 'downstream' AND w.kind = 'step' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'step', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'step_output_modelversion' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 4398046511104 AND w.dir = 'upstream' AND w.kind = 'modelversion' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'modelversion', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'step_output_modelversion' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 8796093022208 AND w.dir = 'downstream' AND w.kind = 'step' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'step', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'step_output_model' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 17592186044416 AND w.dir = 'upstream' AND w.kind = 'model' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'model', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'step_output_model' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 35184372088832 AND w.dir = 'downstream' AND w.kind = 'step' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'step', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'step_output_deployment' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 70368744177664 AND w.dir = 'upstream' AND w.kind = 'deployment' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'deployment', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'step_output_deployment' AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 140737488355328 AND w.dir = 'downstream' AND w.kind = 'step' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, k.to_store, e.to_created
      FROM w1_walk w CROSS JOIN edge_kinds k CROSS JOIN edges e
        ON k.from_store = w.kind AND k.upstream = 'to'
       AND e.from_id = w.id AND e.kind = k.edge AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 281474976710656 AND w.dir = 'upstream' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, k.from_store, e.from_created
      FROM w1_walk w CROSS JOIN edge_kinds k CROSS JOIN edges e
        ON k.to_store = w.kind AND k.upstream = 'from'
       AND e.to_id = w.id AND e.kind = k.edge AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 562949953421312 AND w.dir = 'upstream' AND w.depth < :p6 UNION
    SELECT e.to_id, w.dir, w.depth + 1, k.to_store, e.to_created
      FROM w1_walk w CROSS JOIN edge_kinds k CROSS JOIN edges e
        ON k.from_store = w.kind AND k.upstream = 'from'
       AND e.from_id = w.id AND e.kind = k.edge AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 1125899906842624 AND w.dir = 'downstream' AND w.depth < :p6 UNION
    SELECT e.from_id, w.dir, w.depth + 1, k.from_store, e.from_created
      FROM w1_walk w CROSS JOIN edge_kinds k CROSS JOIN edges e
        ON k.to_store = w.kind AND k.upstream = 'to'
       AND e.to_id = w.id AND e.kind = k.edge AND e.gone = 0
     WHERE (SELECT m FROM w1_mask) & 2251799813685248 AND w.dir = 'downstream' AND w.depth < :p6
    ORDER BY 3, 4, 5, 1
    LIMIT :p2
  ),
  w1_walked(rows) AS (
    SELECT count(*) FROM w1_walk
  ),
  w1_ranked(id, dir, depth, rn) AS (
    SELECT id, dir, depth, ROW_NUMBER() OVER (ORDER BY depth, kind, created, id) FROM (
      SELECT id, dir, MIN(depth) AS depth, kind, created FROM w1_walk WHERE depth > 0 AND id != :p0 GROUP BY id, dir
    )
     WHERE :p4 IS NULL OR kind IN (SELECT value FROM json_each(:p4))
     ORDER BY 4
     LIMIT :p5 + 1
  ),
  -- Whole rows for the nodes answered only: the ranking sorts keys, not documents.
  w1_picked AS (
    SELECT r.depth, r.dir, r.rn, n.id, n.kind, n.name, n.scope, n.created_at, n.tags, n.attributes, n.fields, n.deleted_at, n.deleted_reason FROM w1_ranked r JOIN nodes n ON n.id = r.id
  ),
  w1_kept(id, dir, depth, kind) AS (
    SELECT id, dir, depth, kind FROM w1_picked WHERE rn <= :p5
    UNION ALL
    SELECT id, dir, depth, kind FROM w1_walk WHERE depth = 0
  ),
  w1_followed(kind, from_id, to_id, created_at) AS (
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w1_kept a CROSS JOIN (SELECT column1 AS edge, column2 AS dir, column3 AS fk, column4 AS tk, column5 AS wa FROM (VALUES ('featureset_dataset', 'upstream', 'featureset', 'dataset', 1), ('featureset_dataset', 'downstream', 'featureset', 'dataset', 0), ('run_dataset', 'upstream', 'run', 'dataset', 1), ('run_dataset', 'downstream', 'run', 'dataset', 0), ('run_featureset', 'upstream', 'run', 'featureset', 1), ('run_featureset', 'downstream', 'run', 'featureset', 0), ('run_modelparams', 'upstream', 'run', 'modelparams', 1), ('run_modelparams', 'downstream', 'run', 'modelparams', 0), ('run_model', 'upstream', 'run', 'model', 0), ('run_model', 'downstream', 'run', 'model', 1), ('run_devperf', 'upstream', 'run', 'devperf', 0), ('run_devperf', 'downstream', 'run', 'devperf', 1), ('deployment_model', 'upstream', 'deployment', 'model', 1), ('deployment_model', 'downstream', 'deployment', 'model', 0), ('deployment_featureset', 'upstream', 'deployment', 'featureset', 1), ('deployment_featureset', 'downstream', 'deployment', 'featureset', 0), ('deployment_modelparams', 'upstream', 'deployment', 'modelparams', 1), ('deployment_modelparams', 'downstream', 'deployment', 'modelparams', 0), ('modelversion_run', 'upstream', 'modelversion', 'run', 1), ('modelversion_run', 'downstream', 'modelversion', 'run', 0), ('deployment_modelversion', 'upstream', 'deployment', 'modelversion', 1), ('deployment_modelversion', 'downstream', 'deployment', 'modelversion', 0), ('job_replayof', 'upstream', 'job', 'job', 1), ('job_replayof', 'downstream', 'job', 'job', 0), ('run_job', 'upstream', 'run', 'job', 1), ('run_job', 'downstream', 'run', 'job', 0), ('step_input_dataset', 'upstream', 'step', 'dataset', 1), ('step_input_dataset', 'downstream', 'step', 'dataset', 0), ('step_input_featureset', 'upstream', 'step', 'featureset', 1), ('step_input_featureset', 'downstream', 'step', 'featureset', 0), ('step_input_modelversion', 'upstream', 'step', 'modelversion', 1), ('step_input_modelversion', 'downstream', 'step', 'modelversion', 0), ('step_input_model', 'upstream', 'step', 'model', 1), ('step_input_model', 'downstream', 'step', 'model', 0), ('step_input_deployment', 'upstream', 'step', 'deployment', 1), ('step_input_deployment', 'downstream', 'step', 'deployment', 0), ('step_output_dataset', 'upstream', 'step', 'dataset', 0), ('step_output_dataset', 'downstream', 'step', 'dataset', 1), ('step_output_featureset', 'upstream', 'step', 'featureset', 0), ('step_output_featureset', 'downstream', 'step', 'featureset', 1), ('step_output_modelversion', 'upstream', 'step', 'modelversion', 0), ('step_output_modelversion', 'downstream', 'step', 'modelversion', 1), ('step_output_model', 'upstream', 'step', 'model', 0), ('step_output_model', 'downstream', 'step', 'model', 1), ('step_output_deployment', 'upstream', 'step', 'deployment', 0), ('step_output_deployment', 'downstream', 'step', 'deployment', 1))) s CROSS JOIN edges e CROSS JOIN w1_kept b
     WHERE a.dir = s.dir AND a.kind = s.fk AND b.dir = s.dir AND b.kind = s.tk
       AND iif(s.wa, a.depth, b.depth) < :p6
       AND e.from_id = a.id AND e.kind = s.edge AND e.to_id = b.id AND e.gone = 0 UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w1_kept b CROSS JOIN (SELECT column1 AS edge, column2 AS dir, column3 AS fk, column4 AS tk, column5 AS wa FROM (VALUES ('deployment_servingperf', 'upstream', 'deployment', 'servingperf', 0), ('deployment_servingperf', 'downstream', 'deployment', 'servingperf', 1))) s CROSS JOIN edges e CROSS JOIN w1_kept a
     WHERE a.dir = s.dir AND a.kind = s.fk AND b.dir = s.dir AND b.kind = s.tk
       AND iif(s.wa, a.depth, b.depth) < :p6
       AND e.from_id = a.id AND e.kind = s.edge AND e.to_id = b.id AND e.gone = 0 UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at
      FROM w1_kept a CROSS JOIN edge_kinds k CROSS JOIN edges e CROSS JOIN w1_kept b
     WHERE k.upstream IS NOT NULL AND a.kind = k.from_store AND b.dir = a.dir AND b.kind = k.to_store
       AND iif((a.dir = 'upstream') = (k.upstream = 'to'), a.depth, b.depth) < :p6
       AND e.from_id = a.id AND e.kind = k.edge AND e.to_id = b.id AND e.gone = 0
  ),
  o2 AS (SELECT n.id, json_object(:p7, mg_id(n.id)) AS j FROM nodes n WHERE n.id IN (SELECT :p0)),
  o3 AS (SELECT n.id, json_object(:p8, mg_id(n.id), :p9, upper(n.kind), :p10, n.name) AS j FROM nodes n WHERE n.id IN (SELECT id FROM w1_picked WHERE rn <= :p5))
SELECT EXISTS (SELECT 1 FROM nodes WHERE id = :p0), json_object(:p23, json_object(:p19, json((SELECT j FROM o2 WHERE id = :p0)), :p20, json((SELECT json_group_array(json_object(:p11, x.depth, :p12, upper(x.dir), :p13, json((SELECT j FROM o3 WHERE id = x.id)))) FROM (SELECT * FROM w1_picked WHERE rn <= :p5 ORDER BY rn) x)), :p21, json((SELECT json_group_array(json_object(:p14, mg_id(x.kind || '/' || substr(x.from_id, instr(x.from_id, '/') + 1) || '-' || substr(x.to_id, instr(x.to_id, '/') + 1)), :p15, iif(x.kind LIKE 'custom:%', 'CUSTOM', upper(x.kind)), :p16, mg_id(x.from_id), :p17, mg_id(x.to_id), :p18, mg_time(x.created_at))) FROM (SELECT * FROM w1_followed ORDER BY kind, from_id, to_id) x)), :p22, json(iif(0 OR (SELECT count(*) FROM w1_picked) > :p5, 'true', 'false')))), (SELECT rows FROM w1_walked), (SELECT count(*) FROM w1_picked)

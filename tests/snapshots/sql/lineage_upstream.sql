WITH RECURSIVE 
  w1_walk(id, dir, depth, kind, created) AS (
    SELECT n.id, d.value, 0, n.kind, n.created_at FROM nodes n, json_each(:p1) d WHERE n.id = :p0
    UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'dataset', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'featureset_dataset' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'featureset_dataset' ORDER BY x.to_created, x.to_id LIMIT :p3)
     WHERE :p4 & 1 AND w.dir = 'upstream' AND w.kind = 'featureset' AND w.depth < :p7 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'featureset', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'featureset_dataset' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'featureset_dataset' ORDER BY x.from_created, x.from_id LIMIT :p3)
     WHERE :p4 & 2 AND w.dir = 'downstream' AND w.kind = 'dataset' AND w.depth < :p7 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'dataset', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'run_dataset' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'run_dataset' ORDER BY x.to_created, x.to_id LIMIT :p3)
     WHERE :p4 & 4 AND w.dir = 'upstream' AND w.kind = 'run' AND w.depth < :p7 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'run', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'run_dataset' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'run_dataset' ORDER BY x.from_created, x.from_id LIMIT :p3)
     WHERE :p4 & 8 AND w.dir = 'downstream' AND w.kind = 'dataset' AND w.depth < :p7 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'featureset', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'run_featureset' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'run_featureset' ORDER BY x.to_created, x.to_id LIMIT :p3)
     WHERE :p4 & 16 AND w.dir = 'upstream' AND w.kind = 'run' AND w.depth < :p7 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'run', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'run_featureset' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'run_featureset' ORDER BY x.from_created, x.from_id LIMIT :p3)
     WHERE :p4 & 32 AND w.dir = 'downstream' AND w.kind = 'featureset' AND w.depth < :p7 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'modelparams', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'run_modelparams' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'run_modelparams' ORDER BY x.to_created, x.to_id LIMIT :p3)
     WHERE :p4 & 64 AND w.dir = 'upstream' AND w.kind = 'run' AND w.depth < :p7 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'run', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'run_modelparams' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'run_modelparams' ORDER BY x.from_created, x.from_id LIMIT :p3)
     WHERE :p4 & 128 AND w.dir = 'downstream' AND w.kind = 'modelparams' AND w.depth < :p7 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'run', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'run_model' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'run_model' ORDER BY x.from_created, x.from_id LIMIT :p3)
     WHERE :p4 & 256 AND w.dir = 'upstream' AND w.kind = 'model' AND w.depth < :p7 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'model', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'run_model' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'run_model' ORDER BY x.to_created, x.to_id LIMIT :p3)
     WHERE :p4 & 512 AND w.dir = 'downstream' AND w.kind = 'run' AND w.depth < :p7 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'run', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'run_devperf' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'run_devperf' ORDER BY x.from_created, x.from_id LIMIT :p3)
     WHERE :p4 & 1024 AND w.dir = 'upstream' AND w.kind = 'devperf' AND w.depth < :p7 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'devperf', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'run_devperf' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'run_devperf' ORDER BY x.to_created, x.to_id LIMIT :p3)
     WHERE :p4 & 2048 AND w.dir = 'downstream' AND w.kind = 'run' AND w.depth < :p7 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'model', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'deployment_model' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'deployment_model' ORDER BY x.to_created, x.to_id LIMIT :p3)
     WHERE :p4 & 4096 AND w.dir = 'upstream' AND w.kind = 'deployment' AND w.depth < :p7 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'deployment', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'deployment_model' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'deployment_model' ORDER BY x.from_created, x.from_id LIMIT :p3)
     WHERE :p4 & 8192 AND w.dir = 'downstream' AND w.kind = 'model' AND w.depth < :p7 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'featureset', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'deployment_featureset' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'deployment_featureset' ORDER BY x.to_created, x.to_id LIMIT :p3)
     WHERE :p4 & 16384 AND w.dir = 'upstream' AND w.kind = 'deployment' AND w.depth < :p7 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'deployment', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'deployment_featureset' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'deployment_featureset' ORDER BY x.from_created, x.from_id LIMIT :p3)
     WHERE :p4 & 32768 AND w.dir = 'downstream' AND w.kind = 'featureset' AND w.depth < :p7 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'modelparams', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'deployment_modelparams' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'deployment_modelparams' ORDER BY x.to_created, x.to_id LIMIT :p3)
     WHERE :p4 & 65536 AND w.dir = 'upstream' AND w.kind = 'deployment' AND w.depth < :p7 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'deployment', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'deployment_modelparams' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'deployment_modelparams' ORDER BY x.from_created, x.from_id LIMIT :p3)
     WHERE :p4 & 131072 AND w.dir = 'downstream' AND w.kind = 'modelparams' AND w.depth < :p7 UNION
    SELECT e.from_id, w.dir, w.depth + 1, 'deployment', e.from_created
      FROM w1_walk w JOIN edges e ON e.to_id = w.id AND e.kind = 'deployment_servingperf' AND e.from_id IN (SELECT x.from_id FROM edges x WHERE x.to_id = w.id AND x.kind = 'deployment_servingperf' ORDER BY x.from_created, x.from_id LIMIT :p3)
     WHERE :p4 & 262144 AND w.dir = 'upstream' AND w.kind = 'servingperf' AND w.depth < :p7 UNION
    SELECT e.to_id, w.dir, w.depth + 1, 'servingperf', e.to_created
      FROM w1_walk w JOIN edges e ON e.from_id = w.id AND e.kind = 'deployment_servingperf' AND e.to_id IN (SELECT x.to_id FROM edges x WHERE x.from_id = w.id AND x.kind = 'deployment_servingperf' ORDER BY x.to_created, x.to_id LIMIT :p3)
     WHERE :p4 & 524288 AND w.dir = 'downstream' AND w.kind = 'deployment' AND w.depth < :p7
    ORDER BY 3, 4, 5, 1
    LIMIT :p2
  ),
  w1_walked(rows) AS (
    SELECT count(*) FROM w1_walk
  ),
  w1_ranked(id, dir, depth, rn) AS (
    SELECT id, dir, depth, ROW_NUMBER() OVER (ORDER BY depth, kind, created, id) FROM (
      SELECT id, dir, MIN(depth) AS depth, kind, created FROM w1_walk WHERE depth > 0 GROUP BY id, dir
    )
     WHERE :p5 IS NULL OR kind IN (SELECT value FROM json_each(:p5))
     ORDER BY 4
     LIMIT :p6 + 1
  ),
  -- Whole rows for the nodes answered only: the ranking sorts keys, not documents.
  w1_picked AS (
    SELECT r.depth, r.dir, r.rn, n.id, n.kind, n.name, n.scope, n.created_at, n.tags, n.attributes, n.fields FROM w1_ranked r JOIN nodes n ON n.id = r.id
  ),
  w1_kept(id, dir, depth, kind) AS (
    SELECT id, dir, depth, kind FROM w1_picked WHERE rn <= :p6
    UNION ALL
    SELECT id, dir, depth, kind FROM w1_walk WHERE depth = 0
  ),
  w1_followed(kind, from_id, to_id, created_at) AS (
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w1_kept a CROSS JOIN edges e CROSS JOIN w1_kept b
     WHERE a.dir = 'upstream' AND a.kind = 'featureset' AND b.dir = 'upstream' AND b.kind = 'dataset' AND a.depth < :p7 AND e.from_id = a.id AND e.kind = 'featureset_dataset' AND e.to_id = b.id UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w1_kept a CROSS JOIN edges e CROSS JOIN w1_kept b
     WHERE a.dir = 'downstream' AND a.kind = 'featureset' AND b.dir = 'downstream' AND b.kind = 'dataset' AND b.depth < :p7 AND e.from_id = a.id AND e.kind = 'featureset_dataset' AND e.to_id = b.id UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w1_kept a CROSS JOIN edges e CROSS JOIN w1_kept b
     WHERE a.dir = 'upstream' AND a.kind = 'run' AND b.dir = 'upstream' AND b.kind = 'dataset' AND a.depth < :p7 AND e.from_id = a.id AND e.kind = 'run_dataset' AND e.to_id = b.id UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w1_kept a CROSS JOIN edges e CROSS JOIN w1_kept b
     WHERE a.dir = 'downstream' AND a.kind = 'run' AND b.dir = 'downstream' AND b.kind = 'dataset' AND b.depth < :p7 AND e.from_id = a.id AND e.kind = 'run_dataset' AND e.to_id = b.id UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w1_kept a CROSS JOIN edges e CROSS JOIN w1_kept b
     WHERE a.dir = 'upstream' AND a.kind = 'run' AND b.dir = 'upstream' AND b.kind = 'featureset' AND a.depth < :p7 AND e.from_id = a.id AND e.kind = 'run_featureset' AND e.to_id = b.id UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w1_kept a CROSS JOIN edges e CROSS JOIN w1_kept b
     WHERE a.dir = 'downstream' AND a.kind = 'run' AND b.dir = 'downstream' AND b.kind = 'featureset' AND b.depth < :p7 AND e.from_id = a.id AND e.kind = 'run_featureset' AND e.to_id = b.id UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w1_kept a CROSS JOIN edges e CROSS JOIN w1_kept b
     WHERE a.dir = 'upstream' AND a.kind = 'run' AND b.dir = 'upstream' AND b.kind = 'modelparams' AND a.depth < :p7 AND e.from_id = a.id AND e.kind = 'run_modelparams' AND e.to_id = b.id UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w1_kept a CROSS JOIN edges e CROSS JOIN w1_kept b
     WHERE a.dir = 'downstream' AND a.kind = 'run' AND b.dir = 'downstream' AND b.kind = 'modelparams' AND b.depth < :p7 AND e.from_id = a.id AND e.kind = 'run_modelparams' AND e.to_id = b.id UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w1_kept a CROSS JOIN edges e CROSS JOIN w1_kept b
     WHERE a.dir = 'upstream' AND a.kind = 'run' AND b.dir = 'upstream' AND b.kind = 'model' AND b.depth < :p7 AND e.from_id = a.id AND e.kind = 'run_model' AND e.to_id = b.id UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w1_kept a CROSS JOIN edges e CROSS JOIN w1_kept b
     WHERE a.dir = 'downstream' AND a.kind = 'run' AND b.dir = 'downstream' AND b.kind = 'model' AND a.depth < :p7 AND e.from_id = a.id AND e.kind = 'run_model' AND e.to_id = b.id UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w1_kept a CROSS JOIN edges e CROSS JOIN w1_kept b
     WHERE a.dir = 'upstream' AND a.kind = 'run' AND b.dir = 'upstream' AND b.kind = 'devperf' AND b.depth < :p7 AND e.from_id = a.id AND e.kind = 'run_devperf' AND e.to_id = b.id UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w1_kept a CROSS JOIN edges e CROSS JOIN w1_kept b
     WHERE a.dir = 'downstream' AND a.kind = 'run' AND b.dir = 'downstream' AND b.kind = 'devperf' AND a.depth < :p7 AND e.from_id = a.id AND e.kind = 'run_devperf' AND e.to_id = b.id UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w1_kept a CROSS JOIN edges e CROSS JOIN w1_kept b
     WHERE a.dir = 'upstream' AND a.kind = 'deployment' AND b.dir = 'upstream' AND b.kind = 'model' AND a.depth < :p7 AND e.from_id = a.id AND e.kind = 'deployment_model' AND e.to_id = b.id UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w1_kept a CROSS JOIN edges e CROSS JOIN w1_kept b
     WHERE a.dir = 'downstream' AND a.kind = 'deployment' AND b.dir = 'downstream' AND b.kind = 'model' AND b.depth < :p7 AND e.from_id = a.id AND e.kind = 'deployment_model' AND e.to_id = b.id UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w1_kept a CROSS JOIN edges e CROSS JOIN w1_kept b
     WHERE a.dir = 'upstream' AND a.kind = 'deployment' AND b.dir = 'upstream' AND b.kind = 'featureset' AND a.depth < :p7 AND e.from_id = a.id AND e.kind = 'deployment_featureset' AND e.to_id = b.id UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w1_kept a CROSS JOIN edges e CROSS JOIN w1_kept b
     WHERE a.dir = 'downstream' AND a.kind = 'deployment' AND b.dir = 'downstream' AND b.kind = 'featureset' AND b.depth < :p7 AND e.from_id = a.id AND e.kind = 'deployment_featureset' AND e.to_id = b.id UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w1_kept a CROSS JOIN edges e CROSS JOIN w1_kept b
     WHERE a.dir = 'upstream' AND a.kind = 'deployment' AND b.dir = 'upstream' AND b.kind = 'modelparams' AND a.depth < :p7 AND e.from_id = a.id AND e.kind = 'deployment_modelparams' AND e.to_id = b.id UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w1_kept a CROSS JOIN edges e CROSS JOIN w1_kept b
     WHERE a.dir = 'downstream' AND a.kind = 'deployment' AND b.dir = 'downstream' AND b.kind = 'modelparams' AND b.depth < :p7 AND e.from_id = a.id AND e.kind = 'deployment_modelparams' AND e.to_id = b.id UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w1_kept b CROSS JOIN edges e CROSS JOIN w1_kept a
     WHERE a.dir = 'upstream' AND a.kind = 'deployment' AND b.dir = 'upstream' AND b.kind = 'servingperf' AND b.depth < :p7 AND e.from_id = a.id AND e.kind = 'deployment_servingperf' AND e.to_id = b.id UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM w1_kept b CROSS JOIN edges e CROSS JOIN w1_kept a
     WHERE a.dir = 'downstream' AND a.kind = 'deployment' AND b.dir = 'downstream' AND b.kind = 'servingperf' AND a.depth < :p7 AND e.from_id = a.id AND e.kind = 'deployment_servingperf' AND e.to_id = b.id
  ),
  o2 AS (SELECT n.id, json_object(:p8, mg_id(n.id)) AS j FROM nodes n WHERE n.id IN (SELECT :p0)),
  o3 AS (SELECT n.id, json_object(:p9, mg_id(n.id), :p10, upper(n.kind), :p11, n.name) AS j FROM nodes n WHERE n.id IN (SELECT id FROM w1_picked WHERE rn <= :p6))
SELECT EXISTS (SELECT 1 FROM nodes WHERE id = :p0), json_object(:p24, json_object(:p20, json((SELECT j FROM o2 WHERE id = :p0)), :p21, json((SELECT json_group_array(json_object(:p12, x.depth, :p13, upper(x.dir), :p14, json((SELECT j FROM o3 WHERE id = x.id)))) FROM (SELECT * FROM w1_picked WHERE rn <= :p6 ORDER BY rn) x)), :p22, json((SELECT json_group_array(json_object(:p15, mg_id(x.kind || '/' || substr(x.from_id, instr(x.from_id, '/') + 1) || '-' || substr(x.to_id, instr(x.to_id, '/') + 1)), :p16, upper(x.kind), :p17, mg_id(x.from_id), :p18, mg_id(x.to_id), :p19, mg_time(x.created_at))) FROM (SELECT * FROM w1_followed ORDER BY kind, from_id, to_id) x)), :p23, json(iif(0 OR (SELECT count(*) FROM w1_picked) > :p6, 'true', 'false')))), (SELECT rows FROM w1_walked), (SELECT count(*) FROM w1_picked)

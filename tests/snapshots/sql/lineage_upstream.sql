WITH RECURSIVE 
  w1_walk(id, dir, depth) AS (
    SELECT :p0, value, 0 FROM json_each(:p1)
    UNION
    SELECT e.to_id, w.dir, w.depth + 1
      FROM w1_walk w JOIN edges e ON e.from_id = w.id
     WHERE w.depth < :p2 AND ((w.dir = 'upstream' AND e.kind IN ('featureset_dataset', 'run_dataset', 'run_featureset', 'run_modelparams', 'deployment_model', 'deployment_featureset', 'deployment_modelparams')) OR (w.dir = 'downstream' AND e.kind IN ('run_model', 'run_devperf', 'deployment_servingperf')))
    UNION
    SELECT e.from_id, w.dir, w.depth + 1
      FROM w1_walk w JOIN edges e ON e.to_id = w.id
     WHERE w.depth < :p2 AND ((w.dir = 'upstream' AND e.kind IN ('run_model', 'run_devperf', 'deployment_servingperf')) OR (w.dir = 'downstream' AND e.kind IN ('featureset_dataset', 'run_dataset', 'run_featureset', 'run_modelparams', 'deployment_model', 'deployment_featureset', 'deployment_modelparams')))
    ORDER BY 3
    LIMIT :p3
  ),
  w1_walked(rows, deepest) AS (
    SELECT count(*), max(depth) FROM w1_walk
  ),
  w1_best(id, dir, depth) AS (
    SELECT id, dir, MIN(depth) FROM w1_walk, w1_walked
     WHERE depth > 0 AND (w1_walked.rows < :p3 OR depth < w1_walked.deepest)
     GROUP BY id, dir
  ),
  w1_ranked(id, dir, depth, rn) AS (
    SELECT b.id, b.dir, b.depth, ROW_NUMBER() OVER (ORDER BY b.depth, n.kind, n.created_at, n.id)
      FROM w1_best b JOIN nodes n ON n.id = b.id
     WHERE :p4 IS NULL OR n.kind IN (SELECT value FROM json_each(:p4))
     ORDER BY 4
     LIMIT :p5 + 1
  ),
  -- Whole rows for the nodes answered only: the ranking sorts keys, not documents.
  w1_picked AS (
    SELECT r.depth, r.dir, r.rn, n.id, n.kind, n.name, n.scope, n.created_at, n.tags, n.attributes, n.fields FROM w1_ranked r JOIN nodes n ON n.id = r.id
  ),
  w1_kept(id, dir, depth) AS (
    SELECT id, dir, depth FROM w1_picked WHERE rn <= :p5
    UNION ALL
    SELECT :p0, value, 0 FROM json_each(:p1)
  ),
  w1_followed(kind, from_id, to_id, created_at) AS (
    SELECT e.kind, e.from_id, e.to_id, e.created_at
      FROM w1_kept k JOIN edges e ON e.from_id = k.id
     WHERE k.depth < :p6 AND ((k.dir = 'upstream' AND e.kind IN ('featureset_dataset', 'run_dataset', 'run_featureset', 'run_modelparams', 'deployment_model', 'deployment_featureset', 'deployment_modelparams')) OR (k.dir = 'downstream' AND e.kind IN ('run_model', 'run_devperf', 'deployment_servingperf'))) AND e.to_id IN (SELECT id FROM w1_kept)
    UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at
      FROM w1_kept k JOIN edges e ON e.to_id = k.id
     WHERE k.depth < :p6 AND ((k.dir = 'upstream' AND e.kind IN ('run_model', 'run_devperf', 'deployment_servingperf')) OR (k.dir = 'downstream' AND e.kind IN ('featureset_dataset', 'run_dataset', 'run_featureset', 'run_modelparams', 'deployment_model', 'deployment_featureset', 'deployment_modelparams'))) AND e.from_id IN (SELECT id FROM w1_kept)
  ),
  o2 AS (SELECT n.id, json_object(:p7, mg_id(n.id)) AS j FROM nodes n WHERE n.id IN (SELECT :p0)),
  o3 AS (SELECT n.id, json_object(:p8, mg_id(n.id), :p9, upper(n.kind), :p10, n.name) AS j FROM nodes n WHERE n.id IN (SELECT id FROM w1_picked WHERE rn <= :p5))
SELECT EXISTS (SELECT 1 FROM nodes WHERE id = :p0), json_object(:p23, json_object(:p19, json((SELECT j FROM o2 WHERE id = :p0)), :p20, json((SELECT json_group_array(json_object(:p11, x.depth, :p12, upper(x.dir), :p13, json((SELECT j FROM o3 WHERE id = x.id)))) FROM (SELECT * FROM w1_picked WHERE rn <= :p5 ORDER BY rn) x)), :p21, json((SELECT json_group_array(json_object(:p14, mg_id(x.kind || '/' || substr(x.from_id, instr(x.from_id, '/') + 1) || '-' || substr(x.to_id, instr(x.to_id, '/') + 1)), :p15, upper(x.kind), :p16, mg_id(x.from_id), :p17, mg_id(x.to_id), :p18, mg_time(x.created_at))) FROM (SELECT * FROM w1_followed ORDER BY kind, from_id, to_id) x)), :p22, json(iif(0 OR (SELECT count(*) FROM w1_picked) > :p5, 'true', 'false')))), (SELECT rows FROM w1_walked), (SELECT deepest FROM w1_walked), (SELECT count(*) FROM w1_picked)

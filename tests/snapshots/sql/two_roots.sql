WITH RECURSIVE 
  m1 AS (SELECT to_id AS id FROM edges WHERE from_id = :p0 AND kind = 'project_model'),
  r2 AS (SELECT e.from_id AS id FROM m1 m JOIN edges e ON e.to_id = m.id AND e.kind = 'run_model'),
  o3 AS (SELECT n.id, json_object(:p1, n.name) AS j FROM nodes n WHERE n.id IN (SELECT :p0)),
  w4_walk(id, dir, depth) AS (
    SELECT :p6, value, 0 FROM json_each(:p7)
    UNION
    SELECT e.to_id, w.dir, w.depth + 1
      FROM w4_walk w JOIN edges e ON e.from_id = w.id
     WHERE w.depth < :p8 AND ((w.dir = 'upstream' AND e.kind IN ('featureset_dataset', 'run_dataset', 'run_featureset', 'run_modelparams', 'deployment_model', 'deployment_featureset', 'deployment_modelparams')) OR (w.dir = 'downstream' AND e.kind IN ('run_model', 'run_devperf', 'deployment_servingperf')))
    UNION
    SELECT e.from_id, w.dir, w.depth + 1
      FROM w4_walk w JOIN edges e ON e.to_id = w.id
     WHERE w.depth < :p8 AND ((w.dir = 'upstream' AND e.kind IN ('run_model', 'run_devperf', 'deployment_servingperf')) OR (w.dir = 'downstream' AND e.kind IN ('featureset_dataset', 'run_dataset', 'run_featureset', 'run_modelparams', 'deployment_model', 'deployment_featureset', 'deployment_modelparams')))
    ORDER BY 3
    LIMIT :p9
  ),
  w4_walked(rows, deepest) AS (
    SELECT count(*), max(depth) FROM w4_walk
  ),
  w4_best(id, dir, depth) AS (
    SELECT id, dir, MIN(depth) FROM w4_walk, w4_walked
     WHERE depth > 0 AND (w4_walked.rows < :p9 OR depth < w4_walked.deepest)
     GROUP BY id, dir
  ),
  w4_ranked(id, dir, depth, rn) AS (
    SELECT b.id, b.dir, b.depth, ROW_NUMBER() OVER (ORDER BY b.depth, n.kind, n.created_at, n.id)
      FROM w4_best b JOIN nodes n ON n.id = b.id
     WHERE :p10 IS NULL OR n.kind IN (SELECT value FROM json_each(:p10))
     ORDER BY 4
     LIMIT :p11 + 1
  ),
  -- Whole rows for the nodes answered only: the ranking sorts keys, not documents.
  w4_picked AS (
    SELECT r.depth, r.dir, r.rn, n.id, n.kind, n.name, n.scope, n.created_at, n.tags, n.attributes, n.fields FROM w4_ranked r JOIN nodes n ON n.id = r.id
  ),
  w4_kept(id, dir, depth) AS (
    SELECT id, dir, depth FROM w4_picked WHERE rn <= :p11
    UNION ALL
    SELECT :p6, value, 0 FROM json_each(:p7)
  ),
  w4_followed(kind, from_id, to_id, created_at) AS (
    SELECT e.kind, e.from_id, e.to_id, e.created_at
      FROM w4_kept k JOIN edges e ON e.from_id = k.id
     WHERE k.depth < :p12 AND ((k.dir = 'upstream' AND e.kind IN ('featureset_dataset', 'run_dataset', 'run_featureset', 'run_modelparams', 'deployment_model', 'deployment_featureset', 'deployment_modelparams')) OR (k.dir = 'downstream' AND e.kind IN ('run_model', 'run_devperf', 'deployment_servingperf'))) AND e.to_id IN (SELECT id FROM w4_kept)
    UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at
      FROM w4_kept k JOIN edges e ON e.to_id = k.id
     WHERE k.depth < :p12 AND ((k.dir = 'upstream' AND e.kind IN ('run_model', 'run_devperf', 'deployment_servingperf')) OR (k.dir = 'downstream' AND e.kind IN ('featureset_dataset', 'run_dataset', 'run_featureset', 'run_modelparams', 'deployment_model', 'deployment_featureset', 'deployment_modelparams'))) AND e.from_id IN (SELECT id FROM w4_kept)
  ),
  o5 AS (SELECT n.id, json_object(:p13, mg_id(n.id)) AS j FROM nodes n WHERE n.id IN (SELECT id FROM w4_picked WHERE rn <= :p11))
SELECT EXISTS (SELECT 1 FROM nodes WHERE id = :p0 AND kind = 'project') AND EXISTS (SELECT 1 FROM nodes WHERE id = :p6), json_object(:p16, json_object(:p2, json((SELECT j FROM o3 WHERE id = :p0)), :p3, (SELECT count(*) FROM m1), :p4, (SELECT count(*) FROM r2), :p5, (SELECT count(DISTINCT e.from_id) FROM m1 x JOIN edges e ON e.to_id = x.id AND e.kind = 'deployment_model')), :p17, json_object(:p15, json((SELECT json_group_array(json_object(:p14, json((SELECT j FROM o5 WHERE id = x.id)))) FROM (SELECT * FROM w4_picked WHERE rn <= :p11 ORDER BY rn) x)))), (SELECT rows FROM w4_walked), (SELECT deepest FROM w4_walked), (SELECT count(*) FROM w4_picked)

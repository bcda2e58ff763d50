WITH RECURSIVE 
  f1 AS (SELECT e.to_id AS id FROM edges e WHERE e.kind = :p4 AND e.from_id IN (SELECT value FROM json_each(:p0))),
  o2 AS (SELECT n.id, json_object(:p6, json(mg_metric(n.fields, :p5))) AS j FROM nodes n WHERE n.id IN (SELECT id FROM f1)),
  f3 AS (SELECT e.from_id AS id FROM edges e WHERE e.kind = :p13 AND e.to_id IN (SELECT value FROM json_each(:p0))),
  o4 AS (SELECT n.id, json_object(:p14, n.name) AS j FROM nodes n WHERE n.id IN (SELECT id FROM f3)),
  o5 AS (SELECT n.id, CASE n.kind WHEN :p1 THEN json_object(:p7, :p2, :p8, mg_id(n.id), :p9, nullif(n.fields ->> :p3, ''), :p10, json((SELECT j FROM o2 WHERE id = (SELECT x.id FROM edges e JOIN nodes x ON x.id = e.to_id WHERE e.from_id = n.id AND e.kind = :p4 AND e.gone = (n.deleted_at IS NOT NULL) ORDER BY x.created_at DESC, x.id DESC LIMIT 1)))) WHEN :p11 THEN json_object(:p15, :p12, :p16, mg_id(n.id), :p17, json((SELECT j FROM o4 WHERE id = (SELECT x.id FROM edges e JOIN nodes x ON x.id = e.from_id WHERE e.to_id = n.id AND e.kind = :p13 AND e.gone = (n.deleted_at IS NOT NULL) ORDER BY x.created_at DESC, x.id DESC LIMIT 1)))) END AS j FROM nodes n WHERE n.id IN (SELECT value FROM json_each(:p0)))
SELECT 1, json_object(:p18, json((SELECT json_group_array(json((SELECT j FROM o5 WHERE id = k.value))) FROM (SELECT value FROM json_each(:p0) ORDER BY key) k)))

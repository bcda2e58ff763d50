WITH RECURSIVE 
  o1 AS (SELECT n.id, json_object(:p3, mg_id(n.id), :p4, mg_time(n.created_at), :p5, json(n.tags), :p6, json(n.attributes)) AS j FROM nodes n WHERE n.id IN (SELECT id FROM (SELECT id FROM nodes WHERE kind = :p0 AND name = :p1 AND deleted_at IS NULL AND scope = :p2 ORDER BY created_at, id LIMIT 1)))
SELECT (SELECT count(*) FROM (SELECT 1 FROM nodes WHERE kind = :p0 AND name = :p1 AND deleted_at IS NULL AND scope = :p2 LIMIT 2)) < 2, json_object(:p7, json((SELECT j FROM o1)))

-- The top contributors of every unit's risk score: enterprises (colour + open hazards + sources)
-- and open hazards, ranked by points. The top :top_n of a subtree are among the top :top_n of each
-- unit that holds facts, so only those candidates are spread to the ancestors (by path) and ranked.
-- The per-unit ranking sorts narrow rows (ids and points); an enterprise candidate's code and name
-- are then looked up by primary key (scalar subqueries: the planner cannot tell that the ranking
-- leaves only a few rows and would hash every enterprise). Open hazards come from
-- stage_open_hazards (refresh_open_hazards.sql).
-- A third kind, 'driver', names what 就高 reads (domain/risk_rule.py MAX_RULE_INPUTS): enterprises by
-- their colour, open 重大隐患 (红) and grade 一/二 hazard sources (红/橙), ranked by colour, then points.
-- Binds: :as_of, :top_n, weights :w_red … :w_unassessed, :w_open, :w_major, :w_overdue,
-- :w_supervised, :w_g1 … :w_g4.
WITH hp AS (
    SELECT o."id", o."code", o."title", o."level", o."status", o."deadline", o."supervision_level",
           o."enterprise_id", o.unit_id,
           :w_open + CASE WHEN o."level" = 'major' THEN :w_major ELSE 0 END
                   + CASE WHEN o."deadline" < :as_of THEN :w_overdue ELSE 0 END
                   + CASE WHEN o."supervision_level" IS NOT NULL THEN :w_supervised ELSE 0 END AS points
    FROM stage_open_hazards o
), sp AS (
    SELECT s."enterprise_id",
           sum(CASE s."grade" WHEN 1 THEN :w_g1 WHEN 2 THEN :w_g2 WHEN 3 THEN :w_g3 WHEN 4 THEN :w_g4 ELSE 0 END) AS points
    FROM "hazard_sources" s GROUP BY 1
), hsum AS (
    SELECT "enterprise_id", sum(points) AS points, count(*) AS n FROM hp WHERE "enterprise_id" IS NOT NULL GROUP BY 1
), ep AS (
    SELECT e."id", e."unit_id", e."risk_level",
           coalesce(hsum.n, 0) AS open_hazards,
           CASE e."risk_level" WHEN 'red' THEN :w_red WHEN 'orange' THEN :w_orange WHEN 'yellow' THEN :w_yellow
                WHEN 'blue' THEN :w_blue ELSE :w_unassessed END
           + coalesce(hsum.points, 0) + coalesce(sp.points, 0) AS points
    FROM "enterprises" e
    LEFT JOIN hsum ON hsum."enterprise_id" = e."id"
    LEFT JOIN sp ON sp."enterprise_id" = e."id"
    WHERE e."unit_id" IS NOT NULL
), ent_top AS (
    SELECT * FROM (SELECT ep.*, row_number() OVER (PARTITION BY ep."unit_id" ORDER BY points DESC, ep."id") AS rn
                   FROM ep) t
    WHERE rn <= :top_n
), haz_top AS (
    SELECT * FROM (SELECT hp.*, row_number() OVER (PARTITION BY hp.unit_id ORDER BY points DESC, hp."id") AS rn
                   FROM hp WHERE hp.unit_id IS NOT NULL) t
    WHERE rn <= :top_n
), drv AS (
    SELECT 'enterprise' AS item, ep."id", ep."unit_id" AS unit_id, ep."risk_level" AS colour, ep.points
    FROM ep WHERE ep."risk_level" IS NOT NULL
    UNION ALL
    SELECT 'hazard', hp."id", hp.unit_id, 'red', hp.points FROM hp WHERE hp."level" = 'major' AND hp.unit_id IS NOT NULL
    UNION ALL
    SELECT 'source', t."id", t.unit_id, CASE t."grade" WHEN 1 THEN 'red' ELSE 'orange' END,
           CASE t."grade" WHEN 1 THEN :w_g1 ELSE :w_g2 END
    FROM (SELECT s."id", s."grade", coalesce(s."unit_id", (SELECT e."unit_id" FROM "enterprises" e
                                                          WHERE e."id" = s."enterprise_id")) AS unit_id
          FROM "hazard_sources" s WHERE s."enterprise_id" IS NOT NULL AND s."grade" IN (1, 2)) t
    WHERE t.unit_id IS NOT NULL
), drv_top AS (
    SELECT * FROM (SELECT drv.*, CASE drv.colour WHEN 'red' THEN 3 WHEN 'orange' THEN 2 WHEN 'yellow' THEN 1
                                      ELSE 0 END AS rank_key,
                          row_number() OVER (PARTITION BY drv.unit_id ORDER BY CASE drv.colour WHEN 'red' THEN 3
                              WHEN 'orange' THEN 2 WHEN 'yellow' THEN 1 ELSE 0 END DESC, drv.points DESC, drv.item,
                              drv."id") AS rn
                   FROM drv) t
    WHERE rn <= :top_n
), cand AS (
    SELECT 'enterprise' AS kind, 'enterprise' AS item, 0 AS rank_key, t."id", t.unit_id,
           (SELECT e."credit_code" FROM "enterprises" e WHERE e."id" = t."id") AS code,
           (SELECT e."name" FROM "enterprises" e WHERE e."id" = t."id") AS label,
           json_build_object('risk_level', t."risk_level", 'open_hazards', t.open_hazards) AS extra, t.points
    FROM ent_top t
    UNION ALL
    SELECT 'hazard', 'hazard', 0, t."id", t.unit_id, t."code", t."title", json_build_object(
               'level', t."level", 'status', t."status", 'deadline', t."deadline", 'overdue', t."deadline" < :as_of,
               'supervision_level', t."supervision_level"), t.points
    FROM haz_top t
    UNION ALL
    SELECT 'driver', t.item, t.rank_key, t."id", t.unit_id,
           CASE t.item WHEN 'enterprise' THEN (SELECT e."credit_code" FROM "enterprises" e WHERE e."id" = t."id")
                       WHEN 'hazard' THEN (SELECT h."code" FROM "hazards" h WHERE h."id" = t."id")
                       ELSE (SELECT s."code" FROM "hazard_sources" s WHERE s."id" = t."id") END,
           CASE t.item WHEN 'enterprise' THEN (SELECT e."name" FROM "enterprises" e WHERE e."id" = t."id")
                       WHEN 'hazard' THEN (SELECT h."title" FROM "hazards" h WHERE h."id" = t."id")
                       ELSE (SELECT s."name" FROM "hazard_sources" s WHERE s."id" = t."id") END,
           json_build_object('item', t.item, 'colour', t.colour), t.points
    FROM drv_top t
), spread AS (
    SELECT a."id" AS anc_id, c.*,
           row_number() OVER (PARTITION BY a."id", c.kind ORDER BY c.rank_key DESC, c.points DESC, c.item, c."id")
               AS rank
    FROM cand c JOIN "units" v ON v."id" = c.unit_id
    CROSS JOIN LATERAL unnest(string_to_array(rtrim(v."path", '.'), '.')) AS p(code)
    JOIN "units" a ON a."code" = p.code
)
SELECT anc_id, kind, rank, "id", code, label, extra, points FROM spread WHERE rank <= :top_n
ORDER BY anc_id, kind, rank

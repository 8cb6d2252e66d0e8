-- The top contributors of every unit's risk score: enterprises (colour + open hazards + sources)
-- and open hazards, ranked by points. The top :top_n of a subtree are among the top :top_n of each
-- unit that holds facts, so only those candidates are spread to the ancestors (by path) and ranked.
-- Binds: :as_of, :top_n, weights :w_red … :w_unassessed, :w_open, :w_major, :w_overdue,
-- :w_supervised, :w_g1 … :w_g4.
WITH hp AS (
    SELECT h."id", h."code", h."title", h."level", h."status", h."deadline", h."supervision_level",
           h."enterprise_id", coalesce(h."unit_id", e."unit_id") AS unit_id,
           h."deadline" < :as_of AS overdue,
           :w_open + CASE WHEN h."level" = 'major' THEN :w_major ELSE 0 END
                   + CASE WHEN h."deadline" < :as_of THEN :w_overdue ELSE 0 END
                   + CASE WHEN h."supervision_level" IS NOT NULL THEN :w_supervised ELSE 0 END AS points
    FROM "hazards" h LEFT JOIN "enterprises" e ON e."id" = h."enterprise_id"
    WHERE h."status" <> 'closed'
), sp AS (
    SELECT s."enterprise_id",
           sum(CASE s."grade" WHEN 1 THEN :w_g1 WHEN 2 THEN :w_g2 WHEN 3 THEN :w_g3 WHEN 4 THEN :w_g4 ELSE 0 END) AS points
    FROM "hazard_sources" s GROUP BY 1
), hsum AS (
    SELECT "enterprise_id", sum(points) AS points, count(*) AS n FROM hp WHERE "enterprise_id" IS NOT NULL GROUP BY 1
), ep AS (
    SELECT e."id", e."unit_id", e."credit_code" AS code, e."name", e."risk_level",
           coalesce(hsum.n, 0) AS open_hazards,
           CASE e."risk_level" WHEN 'red' THEN :w_red WHEN 'orange' THEN :w_orange WHEN 'yellow' THEN :w_yellow
                WHEN 'blue' THEN :w_blue ELSE :w_unassessed END
           + coalesce(hsum.points, 0) + coalesce(sp.points, 0) AS points
    FROM "enterprises" e
    LEFT JOIN hsum ON hsum."enterprise_id" = e."id"
    LEFT JOIN sp ON sp."enterprise_id" = e."id"
    WHERE e."unit_id" IS NOT NULL
), cand AS (
    SELECT 'enterprise' AS kind, "id", unit_id, code, "name" AS label, json_build_object(
               'risk_level', "risk_level", 'open_hazards', open_hazards) AS extra, points
    FROM (SELECT ep.*,
                 row_number() OVER (PARTITION BY ep."unit_id" ORDER BY points DESC, ep."id") AS rn FROM ep) t
    WHERE rn <= :top_n
    UNION ALL
    SELECT 'hazard', "id", unit_id, "code", "title", json_build_object(
               'level', "level", 'status', "status", 'deadline', "deadline", 'overdue', overdue,
               'supervision_level', "supervision_level"), points
    FROM (SELECT hp.*, row_number() OVER (PARTITION BY hp.unit_id ORDER BY points DESC, hp."id") AS rn
          FROM hp WHERE hp.unit_id IS NOT NULL) t
    WHERE rn <= :top_n
), spread AS (
    SELECT a."id" AS anc_id, c.*,
           row_number() OVER (PARTITION BY a."id", c.kind ORDER BY c.points DESC, c."id") AS rank
    FROM cand c JOIN "units" v ON v."id" = c.unit_id
    CROSS JOIN LATERAL unnest(string_to_array(rtrim(v."path", '.'), '.')) AS p(code)
    JOIN "units" a ON a."code" = p.code
)
SELECT anc_id, kind, rank, "id", code, label, extra, points FROM spread WHERE rank <= :top_n
ORDER BY anc_id, kind, rank

-- unit_stats of every unit for its whole subtree, as the session's table stage_unit_facts (CREATE
-- TABLE AS may use a parallel plan, INSERT … SELECT may not). Facts are counted once per unit that
-- holds them (mostly grid cells), then every unit's counts are added to each of its ancestors found
-- from its path ('411000.411002.411002001.'): one pass, no spatial joins. Open hazards come from
-- stage_open_hazards (refresh_open_hazards.sql); a hazard source's enterprise is looked up lazily
-- (an existing one: enterprise_id is a foreign key). Binds: :as_of, :stock_cutoff (the last day of 存量:
-- MAJOR hazards found on or before it are stock, after it increment; domain.hazard_flow.rollup_counts),
-- :staffing (JSON {"level": {"role": slots}}, domain/rules_config.py), :cadence (四查 by calendar
-- period, JSON from geo.refresh.cadence_params: per level with a cadence its date_trunc field, step, current
-- and previous period starts and the oldest period a streak may reach; domain/cadence.py).
CREATE TEMP TABLE stage_unit_facts AS
WITH ent AS (
    SELECT "unit_id",
           count(*) AS enterprises,
           count(*) FILTER (WHERE "risk_level" = 'red') AS ent_red,
           count(*) FILTER (WHERE "risk_level" = 'orange') AS ent_orange,
           count(*) FILTER (WHERE "risk_level" = 'yellow') AS ent_yellow,
           count(*) FILTER (WHERE "risk_level" = 'blue') AS ent_blue,
           count(*) FILTER (WHERE "risk_level" IS NULL) AS ent_unassessed
    FROM "enterprises" WHERE "unit_id" IS NOT NULL GROUP BY "unit_id"
), haz AS (
    SELECT unit_id,
           count(*) AS hazards_open,
           count(*) FILTER (WHERE overdue) AS hazards_overdue,
           count(*) FILTER (WHERE "level" = 'major') AS hazards_major_open,
           count(*) FILTER (WHERE "supervision_level" IS NOT NULL) AS hazards_supervised,
           count(*) FILTER (WHERE "level" = 'major' AND "found_at" <= :stock_cutoff) AS hazards_stock_open,
           count(*) FILTER (WHERE "level" = 'major' AND "found_at" > :stock_cutoff) AS hazards_increment_open
    FROM stage_open_hazards
    WHERE unit_id IS NOT NULL
    GROUP BY 1
), src AS (
    SELECT unit_id,
           count(*) FILTER (WHERE "grade" = 1) AS sources_g1,
           count(*) FILTER (WHERE "grade" = 2) AS sources_g2,
           count(*) FILTER (WHERE "grade" = 3) AS sources_g3,
           count(*) FILTER (WHERE "grade" = 4) AS sources_g4
    FROM (SELECT s."grade", coalesce(s."unit_id", (SELECT e."unit_id" FROM "enterprises" e
                                                  WHERE e."id" = s."enterprise_id")) AS unit_id
          FROM "hazard_sources" s WHERE s."enterprise_id" IS NOT NULL) t
    WHERE unit_id IS NOT NULL
    GROUP BY 1
), duty AS (
    -- filled required slots: seq 1..n of each role the staffing rule asks of the unit's level
    SELECT d."unit_id", count(DISTINCT d."role" || d."seq") AS filled
    FROM "duties" d JOIN "units" u ON u."id" = d."unit_id"
    WHERE (d."until" IS NULL OR d."until" >= :as_of) AND (d."since" IS NULL OR d."since" <= :as_of)
      AND d."seq" BETWEEN 1 AND coalesce(CAST(CAST(:staffing AS jsonb) -> CAST(u."level" AS text) ->> d."role" AS int), 0)
    GROUP BY d."unit_id"
), required AS (
    SELECT CAST(l.key AS int) AS level, sum(CAST(r.value AS int)) AS n
    FROM jsonb_each(CAST(:staffing AS jsonb)) l CROSS JOIN LATERAL jsonb_each_text(l.value) r
    GROUP BY 1
), own AS (
    SELECT u."id", u."path",
           coalesce(ent.enterprises, 0) AS enterprises, coalesce(ent.ent_red, 0) AS ent_red,
           coalesce(ent.ent_orange, 0) AS ent_orange, coalesce(ent.ent_yellow, 0) AS ent_yellow,
           coalesce(ent.ent_blue, 0) AS ent_blue, coalesce(ent.ent_unassessed, 0) AS ent_unassessed,
           coalesce(haz.hazards_open, 0) AS hazards_open, coalesce(haz.hazards_overdue, 0) AS hazards_overdue,
           coalesce(haz.hazards_major_open, 0) AS hazards_major_open,
           coalesce(haz.hazards_supervised, 0) AS hazards_supervised,
           coalesce(haz.hazards_stock_open, 0) AS hazards_stock_open,
           coalesce(haz.hazards_increment_open, 0) AS hazards_increment_open,
           coalesce(src.sources_g1, 0) AS sources_g1, coalesce(src.sources_g2, 0) AS sources_g2,
           coalesce(src.sources_g3, 0) AS sources_g3, coalesce(src.sources_g4, 0) AS sources_g4,
           coalesce(required.n, 0) AS persons_required,
           coalesce(duty.filled, 0) AS persons_present
    FROM "units" u
    LEFT JOIN ent ON ent."unit_id" = u."id"
    LEFT JOIN haz ON haz.unit_id = u."id"
    LEFT JOIN src ON src.unit_id = u."id"
    LEFT JOIN duty ON duty."unit_id" = u."id"
    LEFT JOIN required ON required.level = u."level"
), up AS (
    -- every unit's own counts, once for each of its ancestors (itself included)
    SELECT a."id" AS anc_id, o.*
    FROM own o
    CROSS JOIN LATERAL unnest(string_to_array(rtrim(o."path", '.'), '.')) AS c(code)
    JOIN "units" a ON a."code" = c.code
), cad AS (
    SELECT * FROM jsonb_to_recordset(CAST(:cadence AS jsonb))
        AS k("level" int, field text, step interval, cur date, prev date, since date)
), rec AS NOT MATERIALIZED (
    -- 四查 records up to :as_of: inspections at their inspector's level (NULL: any level) and patrols
    -- (网格巡查 / 村级日排查), which are village-level (4) records
    SELECT "unit_id", "inspector_level" AS lvl, "inspected_at" AS d
    FROM "inspections" WHERE "unit_id" IS NOT NULL AND "inspected_at" <= :as_of
    UNION ALL
    SELECT "unit_id", 4, "patrol_date" FROM "patrols" WHERE "patrol_date" <= :as_of
), rec_day AS MATERIALIZED (
    -- one pass over the records: the days each unit has a record of each level (read by insp and rec_per)
    SELECT unit_id, lvl, d FROM rec GROUP BY 1, 2, 3
), insp AS (
    SELECT unit_id, lvl, max(d) AS last_at FROM rec_day GROUP BY 1, 2
), insp_up AS (
    -- a unit's records are those made at its own level anywhere in its subtree (四查: 市季查、县月查、
    -- 乡周查、村日查); a grid cell counts every record made in it
    SELECT a."id" AS anc_id, max(i.last_at) AS last_at
    FROM insp i JOIN "units" v ON v."id" = i."unit_id"
    CROSS JOIN LATERAL unnest(string_to_array(rtrim(v."path", '.'), '.')) AS c(code)
    JOIN "units" a ON a."code" = c.code
    WHERE a."level" = 5 OR coalesce(i.lvl, a."level") = a."level"
    GROUP BY a."id"
), counts_for AS (
    -- which records count for each level with a cadence, as equality on the record's level (0: no level), so
    -- that records meet the cadence in one hash join: its own level, none, and every level for a grid cell
    SELECT k."level", x.lvl FROM cad k CROSS JOIN generate_series(0, 5) AS x(lvl)
    WHERE x.lvl IN (0, k."level") OR k."level" = 5
), rec_per AS (
    -- each record's period at every level with a cadence it counts for, within that level's streak window,
    -- bucketed per recording unit *before* going up the tree: millions of records become thousands of rows
    SELECT r."unit_id", k."level", date_trunc(k.field, r.d::timestamp)::date AS p
    FROM rec_day r JOIN counts_for f ON f.lvl = coalesce(r.lvl, 0) JOIN cad k ON k."level" = f."level"
    WHERE r.d >= k.since
    GROUP BY 1, 2, 3
), per AS (
    -- the periods in which each unit of a level with a cadence has a counting record: the recording unit's
    -- ancestor at that level is the path's code at that position (level n = the n-th code of the path)
    SELECT a."id" AS anc_id, a."level", g.p
    FROM rec_per g JOIN "units" v ON v."id" = g."unit_id"
    JOIN "units" a ON a."code" = split_part(v."path", '.', g."level") AND a."level" = g."level"
    GROUP BY 1, 2, 3
), ranked AS (
    SELECT per.anc_id, per.p, k.cur, k.prev, k.step,
           bool_or(per.p = k.cur) OVER (PARTITION BY per.anc_id) AS done,
           row_number() OVER (PARTITION BY per.anc_id ORDER BY per.p DESC) - 1 AS back
    FROM per JOIN cad k ON k."level" = per."level"
), streak AS (
    -- consecutive periods with a record, back from the current period (from the previous one while the
    -- current period has none yet): periods are distinct and descending, so the matches are a prefix
    SELECT anc_id, bool_or(done) AS done,
           count(*) FILTER (WHERE p = CAST(CASE WHEN done THEN cur ELSE prev END - back * step AS date)) AS n
    FROM ranked GROUP BY anc_id
), kids AS (
    SELECT "parent_id", count(*) AS n FROM "units" WHERE "parent_id" IS NOT NULL GROUP BY 1
), rolled AS (
    SELECT anc_id,
           sum(enterprises) AS enterprises, sum(ent_red) AS ent_red, sum(ent_orange) AS ent_orange,
           sum(ent_yellow) AS ent_yellow, sum(ent_blue) AS ent_blue, sum(ent_unassessed) AS ent_unassessed,
           sum(hazards_open) AS hazards_open, sum(hazards_overdue) AS hazards_overdue,
           sum(hazards_major_open) AS hazards_major_open, sum(hazards_supervised) AS hazards_supervised,
           sum(hazards_stock_open) AS hazards_stock_open, sum(hazards_increment_open) AS hazards_increment_open,
           sum(sources_g1) AS sources_g1, sum(sources_g2) AS sources_g2, sum(sources_g3) AS sources_g3,
           sum(sources_g4) AS sources_g4, sum(persons_present) AS persons_present,
           sum(persons_required) AS persons_required,
           sum(persons_required - least(persons_present, persons_required)) AS vacancies_subtree
    FROM up GROUP BY anc_id
)
SELECT u."id" AS unit_id, u."level", coalesce(kids.n, 0) AS children, r.enterprises, r.ent_red, r.ent_orange,
       r.ent_yellow, r.ent_blue, r.ent_unassessed, r.hazards_open, r.hazards_overdue, r.hazards_major_open, r.hazards_supervised,
       r.hazards_stock_open, r.hazards_increment_open, r.sources_g1, r.sources_g2, r.sources_g3, r.sources_g4,
       r.persons_present, r.persons_required, r.vacancies_subtree, iu.last_at AS last_inspection_at,
       -- behind (四查落后): neither the current period nor the last closed one has a record
       k."level" IS NOT NULL AND coalesce(st.n, 0) = 0 AS inspection_overdue,
       k.field AS cadence, k.cur AS period_start, coalesce(st.done, false) AS cadence_done,
       coalesce(st.n, 0) AS cadence_streak
FROM "units" u
JOIN rolled r ON r.anc_id = u."id"
LEFT JOIN insp_up iu ON iu.anc_id = u."id"
LEFT JOIN cad k ON k."level" = u."level"
LEFT JOIN streak st ON st.anc_id = u."id"
LEFT JOIN kids ON kids."parent_id" = u."id"

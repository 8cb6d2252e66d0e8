-- The open hazards of the refresh snapshot, read once (the hazards table holds every closed one
-- too) for the roll-ups, the top contributors and the heatmaps. A hazard without a grid cell or a
-- point of its own takes its enterprise's, looked up only for those rows: COALESCE evaluates the
-- subquery lazily, so there is no join with every enterprise. Code, title and status are kept for
-- the top contributors. Binds: :as_of.
CREATE TEMP TABLE stage_open_hazards AS
SELECT h."id", h."code", h."title", h."status", h."enterprise_id",
       coalesce(h."unit_id", (SELECT e."unit_id" FROM "enterprises" e WHERE e."id" = h."enterprise_id")) AS unit_id,
       h."level", h."deadline", h."deadline" < :as_of AS overdue, h."supervision_level", h."found_at",
       coalesce(h."geom", (SELECT e."geom" FROM "enterprises" e WHERE e."id" = h."enterprise_id")) AS geom
FROM "hazards" h
WHERE h."status" <> 'closed'

-- Land available for a project on :as_of, in the caller's scope (optionally a region prefix):
--   freed   已腾出 (renewal_status 'freed'): the area freed since the parcel last returned to 正常;
--   vacant  unsupplied and unused: no contract, no supply, no current occupant, nothing built;
--   idle    闲置土地 (53号令) still under its old contract: available only after disposal.
-- Land already promised to a project (matched or supplied) is left out. Each parcel carries the
-- ids of its contiguous block (touching within :touch_m metres) and of its neighbourhood (within
-- :nearby_m), clustered in the GK zone most candidates lie in.
WITH idle AS (
  SELECT i.parcel_id FROM landgis_idle_land(CAST(:as_of AS date)) i
),
avail AS (
  SELECT p.id, p.land_code, p.zone_id, p.region_code, p.area_mu, p.far_max, p.land_use_code, p.geom, p.gk_srid,
         p.location,
         CASE WHEN p.renewal_status = 'freed' THEN 'freed'
              WHEN p.id IN (SELECT parcel_id FROM idle) THEN 'idle'
              ELSE 'vacant' END AS availability,
         CASE WHEN p.renewal_status = 'freed' THEN least(p.area_mu, coalesce((
                SELECT sum(e.area_mu) FROM renewal_event e
                WHERE e.parcel_id = p.id AND e.revoked_at IS NULL AND e.counts_freed
                  AND e.id > coalesce((SELECT max(r.id) FROM renewal_event r WHERE r.parcel_id = p.id
                                       AND r.revoked_at IS NULL AND r.to_status = 'normal'), 0)), p.area_mu))
              ELSE p.area_mu END AS available_mu
  FROM parcel p
  WHERE landgis_in_scope(p.region_code)
    AND (CAST(:region AS text) IS NULL OR starts_with(p.region_code, CAST(:region AS text)))
    AND (p.renewal_status = 'freed'
         OR (p.renewal_status IN ('normal', 'identified', 'planned', 'in_progress')
             AND p.id IN (SELECT parcel_id FROM idle))
         OR (p.renewal_status = 'normal' AND p.contract_date IS NULL AND p.supply_method IS NULL
             AND coalesce(p.far, 0) = 0 AND p.actual_production_date IS NULL
             AND NOT EXISTS (SELECT 1 FROM occupancy o WHERE o.parcel_id = p.id
                             AND (o.valid_to IS NULL OR o.valid_to >= CAST(:as_of AS date)))))
    AND NOT EXISTS (SELECT 1 FROM project_parcel l JOIN project j ON j.id = l.project_id
                    WHERE l.parcel_id = p.id AND j.status IN ('matched', 'supplied'))
),
srid AS (SELECT mode() WITHIN GROUP (ORDER BY gk_srid) AS gk FROM avail),
projected AS (
  SELECT a.*, ST_Transform(a.geom, (SELECT gk FROM srid)) AS g FROM avail a
)
SELECT id, land_code, zone_id, region_code, area_mu, available_mu, far_max, land_use_code, availability, location,
       ST_ClusterDBSCAN(g, eps := CAST(:touch_m AS float8), minpoints := 1) OVER () AS block,
       ST_ClusterDBSCAN(g, eps := CAST(:nearby_m AS float8), minpoints := 1) OVER () AS neighbourhood,
       ST_X(ST_Centroid(g)) AS x, ST_Y(ST_Centroid(g)) AS y,
       ST_AsText(g) AS wkt
FROM projected
ORDER BY id

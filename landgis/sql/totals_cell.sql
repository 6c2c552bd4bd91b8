-- totals_cell for one year (:year; :jan1 = 1 January of it, China Standard Time): parcels summed per
-- zone, region, industrial or not, renewal status and class (the latest run's, v_parcel_class).
-- FAR on 1 January is the old value of the parcel's first FAR change since then, else its FAR now.
WITH far_start AS (
  SELECT DISTINCT ON (c.row_id) c.row_id AS parcel_id,
         CASE WHEN jsonb_typeof(c.changes -> 'far' -> 'old') = 'number'
              THEN (c.changes -> 'far' ->> 'old')::double precision END AS far
  FROM change_log c
  WHERE c.table_name = 'parcel' AND c.action = 'update' AND c.changes ? 'far' AND c.occurred_at >= :jan1
  ORDER BY c.row_id, c.id
), cls AS (
  SELECT parcel_id, class FROM v_parcel_class WHERE year = :year
)
INSERT INTO totals_cell (
  year, zone_id, region_code, industrial, renewal_status, class, parcels, area_mu, occupied_mu, tax_wan,
  value_added_wan, tax_above_wan, value_added_above_wan, land_above_mu, far_area_mu, far_x_mu, far_start_x_mu)
SELECT :year, p.zone_id, p.region_code, landgis_is_industrial(p.land_use_code), p.renewal_status, cls.class,
       count(*),
       sum(p.area_mu),
       coalesce(sum(p.area_mu) FILTER (WHERE s.enterprise_count > 0), 0),
       coalesce(sum(s.tax_wan), 0),
       coalesce(sum(s.value_added_wan), 0),
       coalesce(sum(s.tax_above_wan), 0),
       coalesce(sum(s.value_added_above_wan), 0),
       coalesce(sum(least(coalesce(s.land_above_mu, 0), p.area_mu)), 0),
       coalesce(sum(p.area_mu) FILTER (WHERE p.far IS NOT NULL), 0),
       coalesce(sum(p.far * p.area_mu), 0),
       coalesce(sum(CASE WHEN fs.parcel_id IS NOT NULL THEN fs.far ELSE p.far END * p.area_mu)
                FILTER (WHERE p.far IS NOT NULL), 0)
FROM parcel p
LEFT JOIN parcel_year_stat s ON s.parcel_id = p.id AND s.year = :year
LEFT JOIN cls ON cls.parcel_id = p.id
LEFT JOIN far_start fs ON fs.parcel_id = p.id
GROUP BY p.zone_id, p.region_code, landgis_is_industrial(p.land_use_code), p.renewal_status, cls.class

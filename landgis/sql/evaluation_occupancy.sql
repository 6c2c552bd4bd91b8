-- The land each firm uses in a year (:year_start .. :year_end): one row per occupancy valid in it,
-- NULL land_area_mu meaning the whole parcel; with the parcel's zone type. Parcels are looked up
-- one by one through their key (a lateral subquery): far fewer rows than a scan of all parcels.
SELECT o.enterprise_id, o.parcel_id, o.tenure, coalesce(o.land_area_mu, p.area_mu) AS mu, p.zone_type
FROM occupancy o
CROSS JOIN LATERAL (
  SELECT q.area_mu, z.zone_type FROM parcel q LEFT JOIN zone z ON z.id = q.zone_id WHERE q.id = o.parcel_id LIMIT 1
) p
WHERE (o.valid_from IS NULL OR o.valid_from <= :year_end)
  AND (o.valid_to IS NULL OR o.valid_to >= :year_start)
ORDER BY o.enterprise_id, o.parcel_id, o.tenure

-- The land each firm uses in a year (:year_start .. :year_end): one row per occupancy valid in it,
-- NULL land_area_mu meaning the whole parcel; with the parcel's region and zone type.
SELECT o.enterprise_id, o.parcel_id, o.tenure, coalesce(o.land_area_mu, p.area_mu) AS mu,
       p.region_code AS parcel_region, z.zone_type
FROM occupancy o
JOIN parcel p ON p.id = o.parcel_id
LEFT JOIN zone z ON z.id = p.zone_id
WHERE (o.valid_from IS NULL OR o.valid_from <= :year_end)
  AND (o.valid_to IS NULL OR o.valid_to >= :year_start)

-- The land each firm uses in a year (:year_start .. :year_end): one row per occupancy valid in it,
-- NULL land_area_mu meaning the whole parcel; with the parcel's zone type. The parcel's figures
-- come from the covering index ix_parcel_land (revision 0012): an index-only scan, not the heap.
SELECT o.enterprise_id, o.parcel_id, o.tenure, coalesce(o.land_area_mu, p.area_mu) AS mu, z.zone_type
FROM occupancy o
JOIN parcel p ON p.id = o.parcel_id
LEFT JOIN zone z ON z.id = p.zone_id
WHERE (o.valid_from IS NULL OR o.valid_from <= :year_end)
  AND (o.valid_to IS NULL OR o.valid_to >= :year_start)
ORDER BY o.enterprise_id, o.parcel_id, o.tenure

-- The firms of an evaluation (:year, optional :region), with their figures and flags for the year.
-- A firm belongs to the caller's scope and the region by its own region code, or, when it has
-- none, by the parcels it uses.
SELECT e.id AS enterprise_id, e.scale, e.industry_code, e.production_start_date,
       y.id IS NOT NULL AS has_figures,
       y.tax_wan, y.value_added_wan, y.revenue_wan, y.output_wan, y.energy_tce, y.emissions_t, y.rd_wan,
       y.employees, y.electricity_kwh, fl.flags
FROM enterprise e
LEFT JOIN enterprise_year y ON y.enterprise_id = e.id AND y.year = :year
LEFT JOIN (
  SELECT f.enterprise_id, string_agg(f.flag, ',' ORDER BY f.flag) AS flags FROM enterprise_flag f
  WHERE f.year = :year OR f.year IS NULL GROUP BY f.enterprise_id
) fl ON fl.enterprise_id = e.id
WHERE CASE
  WHEN e.region_code IS NOT NULL THEN
    (landgis_setting('landgis.scope') IS NULL OR landgis_in_scope(e.region_code)) AND (CAST(:region AS text) IS NULL OR starts_with(e.region_code, :region))
  ELSE EXISTS (
    SELECT 1 FROM occupancy o JOIN parcel p ON p.id = o.parcel_id
    WHERE o.enterprise_id = e.id AND (landgis_setting('landgis.scope') IS NULL OR landgis_in_scope(p.region_code))
      AND (CAST(:region AS text) IS NULL OR starts_with(p.region_code, :region)))
END
ORDER BY e.id

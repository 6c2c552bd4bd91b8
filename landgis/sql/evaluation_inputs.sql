-- The firms of an evaluation (:year, optional :region), with their figures and flags for the year.
-- A firm belongs to the caller's scope and the region by its own region code, or, when it has
-- none, by the parcels it uses.
SELECT e.id AS enterprise_id, e.uscc, e.name, e.scale, e.industry_code, e.production_start_date,
       y.id IS NOT NULL AS has_figures,
       y.tax_wan, y.value_added_wan, y.revenue_wan, y.output_wan, y.energy_tce, y.emissions_t, y.rd_wan,
       y.employees, y.electricity_kwh,
       (SELECT array_agg(f.flag ORDER BY f.flag) FROM enterprise_flag f
        WHERE f.enterprise_id = e.id AND (f.year = :year OR f.year IS NULL)) AS flags
FROM enterprise e
LEFT JOIN enterprise_year y ON y.enterprise_id = e.id AND y.year = :year
WHERE CASE
  WHEN e.region_code IS NOT NULL THEN
    landgis_in_scope(e.region_code) AND (CAST(:region AS text) IS NULL OR starts_with(e.region_code, :region))
  ELSE EXISTS (
    SELECT 1 FROM occupancy o JOIN parcel p ON p.id = o.parcel_id
    WHERE o.enterprise_id = e.id AND landgis_in_scope(p.region_code)
      AND (CAST(:region AS text) IS NULL OR starts_with(p.region_code, :region)))
END
ORDER BY e.id

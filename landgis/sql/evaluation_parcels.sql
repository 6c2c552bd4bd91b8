-- A run's parcel-level 亩均 (:run, :year, optional :region): every parcel with firms in the year,
-- its firms' figures summed (from parcel_year_stat) over its area now, and its main user's class.
INSERT INTO evaluation_parcel (
  run_id, parcel_id, region_code, area_mu, enterprise_count, tax_wan, value_added_wan, mu_tax,
  mu_value_added, main_enterprise_id, class)
SELECT :run, s.parcel_id, p.region_code, p.area_mu, s.enterprise_count, s.tax_wan, s.value_added_wan,
       s.tax_wan / nullif(p.area_mu, 0), s.value_added_wan / nullif(p.area_mu, 0), s.main_enterprise_id, r.class
FROM parcel_year_stat s
JOIN parcel p ON p.id = s.parcel_id
LEFT JOIN evaluation_result r ON r.run_id = :run AND r.enterprise_id = s.main_enterprise_id
WHERE s.year = :year
  AND landgis_in_scope(p.region_code)
  AND (CAST(:region AS text) IS NULL OR starts_with(p.region_code, :region))

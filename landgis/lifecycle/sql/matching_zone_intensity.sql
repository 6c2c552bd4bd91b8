-- Median committed 投资强度 (万元/亩) of the 标准地 agreements in each zone: what the zone expects.
SELECT p.zone_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY c.value) AS median_intensity, count(*) AS agreements
FROM standard_commitment c
JOIN standard_agreement a ON a.id = c.agreement_id
JOIN parcel p ON p.id = a.parcel_id
WHERE c.indicator = 'investment_intensity' AND p.zone_id IS NOT NULL AND landgis_in_scope(p.region_code)
GROUP BY p.zone_id

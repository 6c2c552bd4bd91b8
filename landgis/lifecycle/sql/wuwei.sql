-- 五未 land as of :as_of, parcels in the caller's scope (optionally one zone / region prefix).
-- Working definitions (domain brief §4; confirm locally):
--   supplied_not_used   供而未用: the agreed start date has passed and the land is not started
--   used_not_exhausted  用而未尽: built, but the actual FAR or coverage is below the contract's lower bound
--   built_not_producing 建而未投: completed, not in production after the agreed 投产 date (or
--                       :production_months after completion when no date was agreed)
-- 批而未供 (approval batches) and 投而未达 (标准地 达产复核) are listed by their own queries.
WITH p AS (
  SELECT p.*, least(p.actual_start_date, p.actual_completion_date, p.actual_production_date) AS started_on,
         least(p.actual_completion_date, p.actual_production_date) AS built_on
  FROM parcel p
  WHERE landgis_in_scope(p.region_code)
    AND (CAST(:zone_id AS integer) IS NULL OR p.zone_id = CAST(:zone_id AS integer))
    AND (CAST(:region AS text) IS NULL OR starts_with(p.region_code, CAST(:region AS text)))
    AND p.renewal_status <> 'freed'
)
SELECT 'supplied_not_used' AS category, p.id AS parcel_id, p.agreed_start_date AS basis_date,
       format('约定开工 %s, 已逾期 %s 天未开工', p.agreed_start_date, CAST(:as_of AS date) - p.agreed_start_date) AS detail
FROM p
WHERE p.agreed_start_date < CAST(:as_of AS date) AND coalesce(p.started_on > CAST(:as_of AS date), true)
  AND NOT (coalesce(p.far, 0) > 0 OR coalesce(p.floor_area_m2, 0) > 0)  -- built: started, date unrecorded
UNION ALL
SELECT 'used_not_exhausted', p.id, p.built_on,
       concat_ws('; ',
         CASE WHEN p.far < p.far_min THEN format('容积率 %s 低于约定下限 %s', round(p.far::numeric, 2), p.far_min) END,
         CASE WHEN p.building_coverage < p.coverage_min
              THEN format('建筑密度 %s 低于约定下限 %s', round(p.building_coverage::numeric, 3), p.coverage_min) END)
FROM p
WHERE p.built_on <= CAST(:as_of AS date) AND (p.far < p.far_min OR p.building_coverage < p.coverage_min)
UNION ALL
SELECT 'built_not_producing', p.id, p.actual_completion_date,
       format('%s 竣工, %s未投产', p.actual_completion_date,
              CASE WHEN p.agreed_production_date IS NOT NULL THEN format('约定 %s 投产, 至今', p.agreed_production_date)
                   ELSE format('超过 %s 个月', CAST(:production_months AS integer)) END)
FROM p
WHERE p.actual_completion_date <= CAST(:as_of AS date)
  AND (p.actual_production_date IS NULL OR p.actual_production_date > CAST(:as_of AS date))
  AND coalesce(p.agreed_production_date,
               (p.actual_completion_date + make_interval(months => CAST(:production_months AS integer)))::date)
      < CAST(:as_of AS date)
ORDER BY 1, 2

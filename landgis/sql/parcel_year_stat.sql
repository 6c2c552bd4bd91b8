-- parcel_year_stat for one year (:year, :year_start, :year_end): per parcel, the figures of every
-- firm on it, each firm's figure split over its parcels by the land it uses on each (一企多地),
-- and its main user (the firm using most of it; then the higher tax, then the lower id); with the
-- parcel's region and area, so readers need not look the parcel up. Parcels are looked up through
-- their key (a lateral subquery): far fewer rows than a scan of every parcel.
WITH occ AS (
  SELECT o.enterprise_id, o.parcel_id, coalesce(o.land_area_mu, p.area_mu) AS mu, p.region_code, p.area_mu AS parcel_mu
  FROM occupancy o
  CROSS JOIN LATERAL (SELECT q.area_mu, q.region_code FROM parcel q WHERE q.id = o.parcel_id LIMIT 1) p
  WHERE (o.valid_from IS NULL OR o.valid_from <= :year_end)
    AND (o.valid_to IS NULL OR o.valid_to >= :year_start)
), firm AS (
  SELECT enterprise_id, sum(mu) AS total_mu, count(*) AS n
  FROM occ
  GROUP BY enterprise_id
), alloc AS (
  SELECT occ.parcel_id, occ.enterprise_id, occ.mu, occ.region_code, occ.parcel_mu,
         CASE WHEN f.total_mu > 0 THEN occ.mu / f.total_mu ELSE 1.0 / f.n END AS share,
         y.tax_wan, y.value_added_wan, e.scale, e.industry_code, e.production_start_date, e.registration_date
  FROM occ
  JOIN firm f ON f.enterprise_id = occ.enterprise_id
  JOIN enterprise e ON e.id = occ.enterprise_id
  LEFT JOIN enterprise_year y ON y.enterprise_id = occ.enterprise_id AND y.year = :year
), sums AS (
  SELECT parcel_id, min(region_code) AS region_code, min(parcel_mu) AS area_mu,
         count(DISTINCT enterprise_id) AS enterprise_count,
         sum(tax_wan * share) AS tax_wan,
         sum(value_added_wan * share) AS value_added_wan,
         sum(tax_wan * share) FILTER (WHERE scale = 'above') AS tax_above_wan,
         sum(value_added_wan * share) FILTER (WHERE scale = 'above') AS value_added_above_wan,
         sum(mu) FILTER (WHERE scale = 'above') AS land_above_mu,
         coalesce(bool_or(scale = 'above'), false) AS has_above
  FROM alloc
  GROUP BY parcel_id
), main AS (
  SELECT DISTINCT ON (parcel_id)
         parcel_id, enterprise_id, scale, industry_code, production_start_date, registration_date
  FROM alloc
  ORDER BY parcel_id, mu DESC, tax_wan DESC NULLS LAST, enterprise_id
), flags AS (
  SELECT occ.parcel_id, array_agg(DISTINCT f.flag ORDER BY f.flag) AS flags
  FROM occ
  JOIN enterprise_flag f ON f.enterprise_id = occ.enterprise_id AND (f.year = :year OR f.year IS NULL)
  GROUP BY occ.parcel_id
)
INSERT INTO parcel_year_stat (
  parcel_id, year, region_code, area_mu, enterprise_count, tax_wan, value_added_wan, tax_above_wan, value_added_above_wan,
  land_above_mu, main_enterprise_id, main_scale, main_industry, main_production_start, main_registration,
  has_above, flags)
SELECT s.parcel_id, :year, s.region_code, s.area_mu, s.enterprise_count, s.tax_wan, s.value_added_wan, s.tax_above_wan,
       s.value_added_above_wan, s.land_above_mu, m.enterprise_id, m.scale, m.industry_code,
       m.production_start_date, m.registration_date, s.has_above, fl.flags
FROM sums s
JOIN main m ON m.parcel_id = s.parcel_id
LEFT JOIN flags fl ON fl.parcel_id = s.parcel_id

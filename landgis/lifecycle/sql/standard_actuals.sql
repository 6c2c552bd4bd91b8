-- The actual figures of 标准地 agreements :ids for a figures year (:year, else the year before
-- the 达产复核 due date): the enterprises on the parcel that year, each counted with the share of
-- its land that lies on this parcel (一企多地), summed (一地多企); the parcel's FAR; the latest
-- investment reported (land_progress) up to the end of that year. NULL sums mean no figure;
-- *_firms count the enterprises that reported the figure, out of ``firms``.
WITH a AS (
  SELECT a.id, a.parcel_id, a.enterprise_id, coalesce(a.land_area_mu, p.area_mu) AS land_mu, p.far,
         coalesce(CAST(:year AS integer), extract(year FROM d.due_date)::integer - 1,
                  extract(year FROM CAST(:as_of AS date))::integer - 1) AS year
  FROM standard_agreement a
  JOIN parcel p ON p.id = a.parcel_id
  JOIN v_standard_review_due d ON d.agreement_id = a.id
  WHERE a.id IN (SELECT unnest(CAST(:ids AS bigint[]))) AND landgis_in_scope(p.region_code)
),
occ AS (
  SELECT a.id AS agreement_id, a.year, o.enterprise_id, coalesce(o.land_area_mu, p.area_mu) AS mu_here
  FROM a
  JOIN occupancy o ON o.parcel_id = a.parcel_id
  JOIN parcel p ON p.id = o.parcel_id
  WHERE (o.valid_from IS NULL OR o.valid_from <= make_date(a.year, 12, 31))
    AND (o.valid_to IS NULL OR o.valid_to >= make_date(a.year, 1, 1))
  UNION ALL
  -- no one recorded on the land: the agreement's own enterprise, wholly
  SELECT a.id, a.year, a.enterprise_id, a.land_mu
  FROM a
  WHERE a.enterprise_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM occupancy o WHERE o.parcel_id = a.parcel_id
                    AND (o.valid_from IS NULL OR o.valid_from <= make_date(a.year, 12, 31))
                    AND (o.valid_to IS NULL OR o.valid_to >= make_date(a.year, 1, 1)))
),
shares AS (
  SELECT occ.agreement_id, occ.year, occ.enterprise_id,
         occ.mu_here / nullif(greatest(occ.mu_here, coalesce((
           SELECT sum(coalesce(o2.land_area_mu, p2.area_mu))
           FROM occupancy o2 JOIN parcel p2 ON p2.id = o2.parcel_id
           WHERE o2.enterprise_id = occ.enterprise_id
             AND (o2.valid_from IS NULL OR o2.valid_from <= make_date(occ.year, 12, 31))
             AND (o2.valid_to IS NULL OR o2.valid_to >= make_date(occ.year, 1, 1))), 0)), 0) AS share
  FROM occ
),
fig AS (
  SELECT s.agreement_id, count(*) AS firms,
         jsonb_agg(jsonb_build_object('enterprise_id', e.id, 'uscc', e.uscc, 'name', e.name,
                                      'share', round(s.share::numeric, 4), 'has_figures', y.id IS NOT NULL)
                   ORDER BY e.name) AS enterprises,
         sum(y.tax_wan * s.share) AS tax_wan, count(y.tax_wan) AS tax_firms,
         sum(y.value_added_wan * s.share) AS value_added_wan, count(y.value_added_wan) AS value_added_firms,
         sum(y.output_wan * s.share) AS output_wan, count(y.output_wan) AS output_firms,
         sum(y.energy_tce * s.share) AS energy_tce, count(y.energy_tce) AS energy_firms,
         sum(y.emissions_t * s.share) AS emissions_t, count(y.emissions_t) AS emissions_firms,
         sum(y.rd_wan * s.share) AS rd_wan, count(y.rd_wan) AS rd_firms,
         sum(y.revenue_wan * s.share) AS revenue_wan, count(y.revenue_wan) AS revenue_firms
  FROM shares s
  JOIN enterprise e ON e.id = s.enterprise_id
  LEFT JOIN enterprise_year y ON y.enterprise_id = s.enterprise_id AND y.year = s.year
  GROUP BY s.agreement_id
),
inv AS (
  SELECT DISTINCT ON (g.parcel_id) g.parcel_id, g.invested_wan, g.report_date
  FROM land_progress g JOIN a ON a.parcel_id = g.parcel_id
  WHERE g.invested_wan IS NOT NULL AND g.report_date <= make_date(a.year, 12, 31)
  ORDER BY g.parcel_id, g.report_date DESC, g.id DESC
)
SELECT a.id AS agreement_id, a.year, a.land_mu, a.far, coalesce(f.firms, 0) AS firms,
       coalesce(f.enterprises, '[]'::jsonb) AS enterprises,
       f.tax_wan, f.tax_firms, f.value_added_wan, f.value_added_firms, f.output_wan, f.output_firms,
       f.energy_tce, f.energy_firms, f.emissions_t, f.emissions_firms, f.rd_wan, f.rd_firms,
       f.revenue_wan, f.revenue_firms, i.invested_wan, i.report_date AS invested_reported_on
FROM a
LEFT JOIN fig f ON f.agreement_id = a.id
LEFT JOIN inv i ON i.parcel_id = a.parcel_id
ORDER BY a.id

-- What falls due between :as_of and :as_of + :within days, for parcels in the caller's scope:
-- contract milestones not yet reached, the day land becomes idle (满一年) or may be taken back
-- without compensation (满两年, 国土资源部令第53号), and 标准地 达产复核 not yet held.
WITH p AS (
  SELECT p.*, least(p.actual_start_date, p.actual_completion_date, p.actual_production_date) AS started_on,
         coalesce(p.far, 0) > 0 OR coalesce(p.floor_area_m2, 0) > 0 AS built
  FROM parcel p
  WHERE landgis_in_scope(p.region_code)
    AND (CAST(:zone_id AS integer) IS NULL OR p.zone_id = CAST(:zone_id AS integer))
    AND (CAST(:region AS text) IS NULL OR starts_with(p.region_code, CAST(:region AS text)))
    AND p.renewal_status <> 'freed'
),
progress AS (
  SELECT DISTINCT ON (g.parcel_id) g.*
  FROM land_progress g JOIN p ON p.id = g.parcel_id
  WHERE g.report_date <= CAST(:as_of AS date)
  ORDER BY g.parcel_id, g.report_date DESC, g.id DESC
),
items AS (
  SELECT p.id AS parcel_id, 'contract_' || m.code AS kind, m.due AS due_date,
         format('约定%s日期', m.label) AS title, NULL::double precision AS amount_wan
  FROM p CROSS JOIN LATERAL (VALUES
    ('delivery', '交地', p.agreed_delivery_date,
     least(p.actual_delivery_date, p.actual_start_date, p.actual_completion_date, p.actual_production_date)),
    ('start', '开工', p.agreed_start_date, p.started_on),
    ('completion', '竣工', p.agreed_completion_date, least(p.actual_completion_date, p.actual_production_date)),
    ('production', '投产', p.agreed_production_date, p.actual_production_date)
  ) AS m(code, label, due, done)
  WHERE m.due IS NOT NULL AND (m.done IS NULL OR m.done > CAST(:as_of AS date))
  UNION ALL
  SELECT p.id, 'idle_from', landgis_period_end(p.agreed_start_date, 1) + 1,
         '满一年未动工, 认定闲置并征收闲置费 (土地价款的20%)',
         CASE WHEN coalesce(g.delay_cause, 'enterprise') = 'enterprise' THEN round((p.land_price_wan * 0.2)::numeric, 2)::double precision END
  FROM p LEFT JOIN progress g ON g.parcel_id = p.id
  WHERE p.agreed_start_date IS NOT NULL AND p.started_on IS NULL AND NOT p.built
  UNION ALL
  SELECT p.id, 'recapture_from', landgis_period_end(p.agreed_start_date, 2) + 1,
         '满两年未动工, 可无偿收回土地使用权', NULL
  FROM p LEFT JOIN progress g ON g.parcel_id = p.id
  WHERE p.agreed_start_date IS NOT NULL AND p.started_on IS NULL AND NOT p.built
    AND coalesce(g.delay_cause, 'enterprise') = 'enterprise'
  UNION ALL
  SELECT p.id, 'halted_idle_from', landgis_period_end(g.halted_since, 1) + 1,
         '中止开发建设满一年, 认定闲置', NULL
  FROM p JOIN progress g ON g.parcel_id = p.id
  WHERE g.halted_since IS NOT NULL AND p.started_on <= CAST(:as_of AS date)
    AND (p.actual_completion_date IS NULL OR p.actual_completion_date > CAST(:as_of AS date))
    AND (3 * g.developed_area_m2 < coalesce(g.planned_area_m2, p.area_m2) OR 4 * g.invested_wan < g.total_investment_wan)
  UNION ALL
  SELECT d.parcel_id, 'review_due', d.due_date, '标准地达产复核', NULL
  FROM v_standard_review_due d JOIN p ON p.id = d.parcel_id
  WHERE NOT EXISTS (SELECT 1 FROM standard_review s WHERE s.agreement_id = d.agreement_id)
)
SELECT i.parcel_id, p.land_code, p.location, p.right_holder, p.area_mu, p.zone_id, i.kind, i.title, i.due_date,
       i.due_date - CAST(:as_of AS date) AS days_left, i.amount_wan
FROM items i JOIN p ON p.id = i.parcel_id
WHERE i.due_date BETWEEN CAST(:as_of AS date) AND CAST(:as_of AS date) + CAST(:within AS integer)
ORDER BY i.due_date, p.land_code, i.kind

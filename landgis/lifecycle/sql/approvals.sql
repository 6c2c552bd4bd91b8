-- 批而未供: land approval batches (用地批次) as of :as_of with the area supplied out of them
-- and what is left; batches in the caller's scope (optionally a region prefix).
SELECT b.id, b.batch_no, b.approval_no, b.authority, b.approved_on, b.region_code, b.approved_area_mu,
       coalesce(s.supplied_mu, 0) AS supplied_mu,
       greatest(b.approved_area_mu - coalesce(s.supplied_mu, 0), 0) AS unsupplied_mu,
       coalesce(s.parcels, 0) AS supplied_parcels,
       CAST(:as_of AS date) - b.approved_on AS days_since_approval
FROM land_approval_batch b
LEFT JOIN LATERAL (
  SELECT sum(x.supplied_area_mu) AS supplied_mu, count(*) AS parcels
  FROM land_approval_supply x
  WHERE x.batch_id = b.id AND (x.supplied_on IS NULL OR x.supplied_on <= CAST(:as_of AS date))
) s ON true
WHERE landgis_in_scope(b.region_code)
  AND (CAST(:region AS text) IS NULL OR starts_with(b.region_code, CAST(:region AS text)))
  AND b.approved_on <= CAST(:as_of AS date)
ORDER BY b.approved_on, b.batch_no

-- 闲置土地 as of :as_of (landgis_idle_land, 国土资源部令第53号) with the parcel's particulars,
-- for parcels in the caller's scope (optionally one zone / region prefix).
SELECT i.parcel_id, p.land_code, p.location, p.right_holder, p.area_mu, p.zone_id, p.region_code,
       p.land_price_wan, p.renewal_status, i.kind, i.basis_date, i.idle_from, i.recapture_from, i.stage,
       i.idle_fee_wan, i.cause, CAST(:as_of AS date) - i.idle_from + 1 AS days_idle
FROM landgis_idle_land(CAST(:as_of AS date)) i
JOIN parcel p ON p.id = i.parcel_id
WHERE landgis_in_scope(p.region_code)
  AND (CAST(:zone_id AS integer) IS NULL OR p.zone_id = CAST(:zone_id AS integer))
  AND (CAST(:region AS text) IS NULL OR starts_with(p.region_code, CAST(:region AS text)))
ORDER BY i.stage DESC, i.idle_from, p.land_code

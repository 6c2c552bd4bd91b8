-- For candidate parcels :ids, the enterprises occupying other parcels within :radius_m metres
-- today, and how many of them are in GB/T 4754 大类 :division (the first three characters, e.g. C33).
SELECT c.id AS parcel_id, count(DISTINCT o.enterprise_id) AS firms,
       count(DISTINCT o.enterprise_id) FILTER (WHERE left(e.industry_code, 3) = CAST(:division AS text)) AS same
FROM parcel c
JOIN parcel n ON n.id <> c.id AND landgis_in_scope(n.region_code)
     AND ST_DWithin(ST_Transform(n.geom, c.gk_srid), ST_Transform(c.geom, c.gk_srid), CAST(:radius_m AS float8))
     AND n.geom && ST_Expand(c.geom, CAST(:radius_m AS float8) / 50000.0)  -- index prefilter, generous up to 60°N
JOIN occupancy o ON o.parcel_id = n.id AND (o.valid_to IS NULL OR o.valid_to >= CAST(:as_of AS date))
JOIN enterprise e ON e.id = o.enterprise_id
WHERE c.id IN (SELECT unnest(CAST(:ids AS bigint[])))
GROUP BY c.id

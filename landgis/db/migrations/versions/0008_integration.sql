-- Functions of revision 0008_integration (evaluation, aggregates and plans under accounts).
-- Frozen with the revision: a later change is a new revision with CREATE OR REPLACE.

-- ---------------------------------------------------------------------------------------------
-- Aggregates. parcel_year_stat and totals_cell are a cache built over the whole database (each
-- read of them is filtered by scope through their policies), and the service role may not write
-- them itself. These builders run with the rights of the schema's owner and the unrestricted
-- scope '*' for their own statements only (SET on the function: the caller's scope is back when
-- they return). They take nothing but a year and return a row count, so a caller learns nothing
-- of other regions through them.

-- parcel_year_stat for one year: per parcel, the figures of every firm on it, each firm's figure
-- split over its parcels by the land it uses on each (一企多地), and its main user (the firm using
-- most of it; then the higher tax, then the lower id); with the parcel's region and area, so
-- readers need not look the parcel up. Parcels are looked up through their key (a lateral
-- subquery): far fewer rows than a scan of every parcel.
CREATE FUNCTION landgis_build_parcel_year_stat(p_year integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET landgis.scope = '*' AS $$
DECLARE
  year_start date := make_date(p_year, 1, 1);
  year_end date := make_date(p_year, 12, 31);
  written integer;
BEGIN
  DELETE FROM parcel_year_stat s WHERE s.year = p_year;
  WITH occ AS (
    SELECT o.enterprise_id, o.parcel_id, coalesce(o.land_area_mu, p.area_mu) AS mu, p.region_code,
           p.area_mu AS parcel_mu
    FROM occupancy o
    CROSS JOIN LATERAL (SELECT q.area_mu, q.region_code FROM parcel q WHERE q.id = o.parcel_id LIMIT 1) p
    WHERE (o.valid_from IS NULL OR o.valid_from <= year_end)
      AND (o.valid_to IS NULL OR o.valid_to >= year_start)
  ), firm AS (
    SELECT occ.enterprise_id, sum(occ.mu) AS total_mu, count(*) AS n
    FROM occ
    GROUP BY occ.enterprise_id
  ), alloc AS (
    SELECT occ.parcel_id, occ.enterprise_id, occ.mu, occ.region_code, occ.parcel_mu,
           CASE WHEN f.total_mu > 0 THEN occ.mu / f.total_mu ELSE 1.0 / f.n END AS share,
           y.tax_wan, y.value_added_wan, e.scale, e.industry_code, e.production_start_date, e.registration_date
    FROM occ
    JOIN firm f ON f.enterprise_id = occ.enterprise_id
    JOIN enterprise e ON e.id = occ.enterprise_id
    LEFT JOIN enterprise_year y ON y.enterprise_id = occ.enterprise_id AND y.year = p_year
  ), sums AS (
    SELECT a.parcel_id, min(a.region_code) AS region_code, min(a.parcel_mu) AS area_mu,
           count(DISTINCT a.enterprise_id) AS enterprise_count,
           sum(a.tax_wan * a.share) AS tax_wan,
           sum(a.value_added_wan * a.share) AS value_added_wan,
           sum(a.tax_wan * a.share) FILTER (WHERE a.scale = 'above') AS tax_above_wan,
           sum(a.value_added_wan * a.share) FILTER (WHERE a.scale = 'above') AS value_added_above_wan,
           sum(a.mu) FILTER (WHERE a.scale = 'above') AS land_above_mu,
           coalesce(bool_or(a.scale = 'above'), false) AS has_above
    FROM alloc a
    GROUP BY a.parcel_id
  ), main AS (
    SELECT DISTINCT ON (a.parcel_id)
           a.parcel_id, a.enterprise_id, a.scale, a.industry_code, a.production_start_date, a.registration_date
    FROM alloc a
    ORDER BY a.parcel_id, a.mu DESC, a.tax_wan DESC NULLS LAST, a.enterprise_id
  ), flags AS (
    SELECT occ.parcel_id, array_agg(DISTINCT f.flag ORDER BY f.flag) AS flags
    FROM occ
    JOIN enterprise_flag f ON f.enterprise_id = occ.enterprise_id AND (f.year = p_year OR f.year IS NULL)
    GROUP BY occ.parcel_id
  )
  INSERT INTO parcel_year_stat (
    parcel_id, year, region_code, area_mu, enterprise_count, tax_wan, value_added_wan, tax_above_wan,
    value_added_above_wan, land_above_mu, main_enterprise_id, main_scale, main_industry, main_production_start,
    main_registration, has_above, flags)
  SELECT s.parcel_id, p_year, s.region_code, s.area_mu, s.enterprise_count, s.tax_wan, s.value_added_wan,
         s.tax_above_wan, s.value_added_above_wan, s.land_above_mu, m.enterprise_id, m.scale, m.industry_code,
         m.production_start_date, m.registration_date, s.has_above, fl.flags
  FROM sums s
  JOIN main m ON m.parcel_id = s.parcel_id
  LEFT JOIN flags fl ON fl.parcel_id = s.parcel_id;
  GET DIAGNOSTICS written = ROW_COUNT;
  RETURN written;
END
$$;
REVOKE EXECUTE ON FUNCTION landgis_build_parcel_year_stat(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION landgis_build_parcel_year_stat(integer) TO landgis_app;

-- totals_cell for one year: parcels summed per zone, region, industrial or not, renewal status and
-- class (the latest run's, v_parcel_class). FAR on 1 January (China Standard Time) is the old value
-- of the parcel's first FAR change since then, else its FAR now. Reads parcel_year_stat of the year.
CREATE FUNCTION landgis_build_totals_cell(p_year integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET landgis.scope = '*' AS $$
DECLARE
  jan1 timestamptz := make_timestamptz(p_year, 1, 1, 0, 0, 0, 'Asia/Shanghai');
  written integer;
BEGIN
  DELETE FROM totals_cell t WHERE t.year = p_year;
  WITH far_start AS (
    SELECT DISTINCT ON (c.row_id) c.row_id AS parcel_id,
           CASE WHEN jsonb_typeof(c.changes -> 'far' -> 'old') = 'number'
                THEN (c.changes -> 'far' ->> 'old')::double precision END AS far
    FROM change_log c
    WHERE c.table_name = 'parcel' AND c.action = 'update' AND c.changes ? 'far' AND c.occurred_at >= jan1
    ORDER BY c.row_id, c.id
  ), cls AS (
    SELECT v.parcel_id, v.class FROM v_parcel_class v WHERE v.year = p_year
  )
  INSERT INTO totals_cell (
    year, zone_id, region_code, industrial, renewal_status, class, parcels, area_mu, occupied_mu, tax_wan,
    value_added_wan, tax_above_wan, value_added_above_wan, land_above_mu, far_area_mu, far_x_mu, far_start_x_mu)
  SELECT p_year, p.zone_id, p.region_code, landgis_is_industrial(p.land_use_code), p.renewal_status, cls.class,
         count(*),
         sum(p.area_mu),
         coalesce(sum(p.area_mu) FILTER (WHERE s.enterprise_count > 0), 0),
         coalesce(sum(s.tax_wan), 0),
         coalesce(sum(s.value_added_wan), 0),
         coalesce(sum(s.tax_above_wan), 0),
         coalesce(sum(s.value_added_above_wan), 0),
         coalesce(sum(least(coalesce(s.land_above_mu, 0), p.area_mu)), 0),
         coalesce(sum(p.area_mu) FILTER (WHERE p.far IS NOT NULL), 0),
         coalesce(sum(p.far * p.area_mu), 0),
         coalesce(sum(CASE WHEN fs.parcel_id IS NOT NULL THEN fs.far ELSE p.far END * p.area_mu)
                  FILTER (WHERE p.far IS NOT NULL), 0)
  FROM parcel p
  LEFT JOIN parcel_year_stat s ON s.parcel_id = p.id AND s.year = p_year
  LEFT JOIN cls ON cls.parcel_id = p.id
  LEFT JOIN far_start fs ON fs.parcel_id = p.id
  GROUP BY p.zone_id, p.region_code, landgis_is_industrial(p.land_use_code), p.renewal_status, cls.class;
  GET DIAGNOSTICS written = ROW_COUNT;
  RETURN written;
END
$$;
REVOKE EXECUTE ON FUNCTION landgis_build_totals_cell(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION landgis_build_totals_cell(integer) TO landgis_app;

-- The newest change-history id and evaluation run id of the whole database, which tell whether
-- an aggregate is stale. Read with the caller's scope they would be the newest the caller may
-- see, and a change in another region (an occupancy shifting a shared firm's figures) would go
-- unnoticed. Two numbers, nothing else, leave the function.
CREATE FUNCTION landgis_aggregate_marks(OUT change_id bigint, OUT run_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp SET landgis.scope = '*' AS $$
  SELECT (SELECT coalesce(max(c.id), 0) FROM change_log c), (SELECT coalesce(max(r.id), 0) FROM evaluation_run r)
$$;
REVOKE EXECUTE ON FUNCTION landgis_aggregate_marks() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION landgis_aggregate_marks() TO landgis_app;

-- ---------------------------------------------------------------------------------------------
-- Deleting a run deletes all its results, including those of firms and parcels outside the
-- deleter's scope (who could see the run, and so may delete it whole).
ALTER FUNCTION landgis_evaluation_run_deleted() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION landgis_evaluation_run_deleted() SET landgis.scope = '*';

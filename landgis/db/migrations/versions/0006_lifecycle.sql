-- Functions, triggers and views of revision 0006_lifecycle (renewal life cycle and 一码管地).
-- Frozen with the revision: a later change is a new revision with CREATE OR REPLACE.

-- ---------------------------------------------------------------------------------------------
-- Periods (民法典 第二百零一条 to 第二百零三条): a period of N years counted from a date begins
-- the next day and ends at 24:00 of the corresponding day N years on (the month's last day when
-- there is none: 2020-02-29 + 1 year ends 2021-02-28). PostgreSQL's date + interval clamps the
-- same way. "满一年" is therefore reached the day after landgis_period_end(start, 1).
CREATE FUNCTION landgis_period_end(start date, years integer) RETURNS date
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT (start + make_interval(years => years))::date
$$;

CREATE FUNCTION landgis_text_array(j jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(x), '{}'::text[])
  FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(j) = 'array' THEN j ELSE '[]'::jsonb END) AS x
$$;

-- Chinese labels of the shared renewal status codes, for reasons written by the database.
CREATE FUNCTION landgis_status_label(code text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(CASE code
    WHEN 'normal' THEN '正常' WHEN 'identified' THEN '认定低效' WHEN 'planned' THEN '列入计划'
    WHEN 'in_progress' THEN '整治中' WHEN 'freed' THEN '已腾出' WHEN 'resupplied' THEN '已再供应'
    WHEN 'producing' THEN '已投产' WHEN 'upgraded' THEN '提容增效完成' WHEN 'exempt' THEN '豁免' END, code)
$$;

-- ---------------------------------------------------------------------------------------------
-- 一码管地: the land code is the valid 宗地代码 when the parcel is created, otherwise the region's
-- 12-digit code + 'L' + a sequence number (a form no 宗地代码 can take). It is issued once and
-- never changes, even when the 宗地代码 is corrected later.
CREATE FUNCTION landgis_generated_land_code(region text) RETURNS text
LANGUAGE sql VOLATILE AS $$
  SELECT rpad(region, 12, '0') || 'L' || lpad(nextval('land_code_seq')::text, 6, '0')
$$;

CREATE FUNCTION landgis_land_code() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF OLD.land_code IS NOT NULL AND NEW.land_code IS DISTINCT FROM OLD.land_code THEN
      RAISE EXCEPTION USING
        ERRCODE = 'check_violation',
        MESSAGE = format('地块码 %s 一经赋予不可更改 (a land code never changes)', OLD.land_code);
    END IF;
    RETURN NEW;
  END IF;
  IF NEW.land_code IS NULL THEN
    IF NEW.zddm ~ '^\d{12}[GJZ][ABCDEFGHSXWYLN]\d{5}$'
       AND NOT EXISTS (SELECT 1 FROM parcel WHERE land_code = NEW.zddm) THEN
      NEW.land_code := NEW.zddm;
    ELSE
      NEW.land_code := landgis_generated_land_code(NEW.region_code);
    END IF;
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER parcel_land_code BEFORE INSERT OR UPDATE OF land_code ON parcel
FOR EACH ROW EXECUTE FUNCTION landgis_land_code();

-- ---------------------------------------------------------------------------------------------
-- 闲置土地 (国土资源部令第53号 第二条) as of a date:
--   not_started: the agreed start date passed 满一年 and the parcel had not started by as_of
--     (nothing built on it either);
--   halted: started, not completed, the latest progress report before as_of says developed
--     area < 1/3 of the area to develop or investment < 25 % of the total, and halted since a
--     date that passed 满一年.
-- stage 'recapture' once 满两年 (第十四条: 无偿收回 candidate); the 闲置费 is 20 % of the land
-- price. Neither applies when the delay was caused by the government or force majeure (第八条).
CREATE FUNCTION landgis_idle_land(as_of date, ids bigint[] DEFAULT NULL)
RETURNS TABLE (
  parcel_id bigint, kind text, basis_date date, idle_from date, recapture_from date, stage text,
  idle_fee_wan double precision, cause text
)
LANGUAGE sql STABLE AS $$
  WITH progress AS (
    SELECT DISTINCT ON (g.parcel_id) g.parcel_id, g.developed_area_m2, g.planned_area_m2, g.invested_wan,
           g.total_investment_wan, g.halted_since, g.delay_cause
    FROM land_progress g
    WHERE g.report_date <= as_of AND (ids IS NULL OR g.parcel_id = ANY (ids))
    ORDER BY g.parcel_id, g.report_date DESC, g.id DESC
  ),
  basis AS (
    SELECT p.id, p.land_price_wan, 'not_started'::text AS kind, p.agreed_start_date AS basis_date, g.delay_cause
    FROM parcel p LEFT JOIN progress g ON g.parcel_id = p.id
    WHERE (ids IS NULL OR p.id = ANY (ids))
      AND p.agreed_start_date IS NOT NULL
      -- a recorded completion or production, or buildings on the land, prove a start whose date
      -- was never recorded (old contracts often lack it)
      AND coalesce(least(p.actual_start_date, p.actual_completion_date, p.actual_production_date) > as_of, true)
      AND NOT (coalesce(p.far, 0) > 0 OR coalesce(p.floor_area_m2, 0) > 0)
    UNION ALL
    SELECT p.id, p.land_price_wan, 'halted'::text, g.halted_since, g.delay_cause
    FROM parcel p JOIN progress g ON g.parcel_id = p.id
    WHERE (ids IS NULL OR p.id = ANY (ids))
      AND p.actual_start_date <= as_of
      AND (p.actual_completion_date IS NULL OR p.actual_completion_date > as_of)
      AND g.halted_since <= as_of
      AND (3 * g.developed_area_m2 < coalesce(g.planned_area_m2, p.area_m2) OR 4 * g.invested_wan < g.total_investment_wan)
  )
  SELECT b.id, b.kind, b.basis_date,
         landgis_period_end(b.basis_date, 1) + 1,
         landgis_period_end(b.basis_date, 2) + 1,
         CASE WHEN coalesce(b.delay_cause, 'enterprise') = 'enterprise' AND as_of > landgis_period_end(b.basis_date, 2)
              THEN 'recapture' ELSE 'idle' END,
         CASE WHEN coalesce(b.delay_cause, 'enterprise') = 'enterprise'
              THEN round((b.land_price_wan * 0.2)::numeric, 2)::double precision END,
         b.delay_cause
  FROM basis b
  WHERE as_of > landgis_period_end(b.basis_date, 1)
$$;

-- 达产复核 due date of each 标准地 agreement: the agreed date, else 投产 (actual, else agreed) plus
-- the agreement's initial operating period.
CREATE VIEW v_standard_review_due AS
SELECT a.id AS agreement_id, a.parcel_id,
       coalesce(a.review_due_date,
                (coalesce(p.actual_production_date, p.agreed_production_date)
                 + make_interval(months => a.initial_period_months))::date) AS due_date,
       CASE WHEN a.review_due_date IS NOT NULL THEN 'agreed'
            WHEN p.actual_production_date IS NOT NULL THEN 'actual_production'
            WHEN p.agreed_production_date IS NOT NULL THEN 'agreed_production' END AS due_basis
FROM standard_agreement a JOIN parcel p ON p.id = a.parcel_id
WHERE landgis_in_scope(p.region_code);

-- ---------------------------------------------------------------------------------------------
-- 一码管地 colours: every enabled rule of colour_rule is evaluated set-based for the given parcels
-- (NULL: every parcel in the caller's scope); red beats yellow beats green, and every colour keeps
-- its reasons. Class rules read v_parcel_class (the evaluation's view) when it exists; without
-- it they match nothing. Returns the number of colours that changed.
CREATE FUNCTION landgis_refresh_parcel_colour(ids bigint[] DEFAULT NULL, as_of date DEFAULT current_date)
RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
  saved_scope text := coalesce(current_setting('landgis.scope', true), '');
  target bigint[];
  class_rows text;
  changed integer;
BEGIN
  IF ids IS NULL THEN
    SELECT coalesce(array_agg(p.id), '{}') INTO target FROM parcel p WHERE landgis_in_scope(p.region_code);
  ELSE
    target := ids;
  END IF;
  IF coalesce(cardinality(target), 0) = 0 THEN
    RETURN 0;
  END IF;
  -- Colours are derived data: computed whole, whatever the writer's scope lets it see.
  PERFORM set_config('landgis.scope', '', true);
  IF to_regclass('v_parcel_class') IS NOT NULL THEN
    class_rows := 'SELECT c.parcel_id::bigint AS parcel_id, c.year::integer AS year, c.class::text AS class
                   FROM v_parcel_class c
                   WHERE c.year = (SELECT max(y.year) FROM v_parcel_class y)
                     AND c.parcel_id IN (SELECT id FROM t)';
  ELSE
    class_rows := 'SELECT NULL::bigint AS parcel_id, NULL::integer AS year, NULL::text AS class WHERE false';
  END IF;
  EXECUTE replace($q$
    WITH t AS MATERIALIZED (
      SELECT p.id, p.renewal_status,
             p.agreed_delivery_date, p.actual_delivery_date, p.agreed_start_date, p.actual_start_date,
             p.agreed_completion_date, p.actual_completion_date, p.agreed_production_date, p.actual_production_date
      FROM parcel p
      WHERE p.id IN (SELECT unnest($1::bigint[]))
    ),
    r AS (SELECT code, kind, colour, label, params, sort_order FROM colour_rule WHERE enabled),
    cls AS ({class_rows}),
    idle AS (SELECT i.* FROM landgis_idle_land($2, $1::bigint[]) i),
    since AS (
      SELECT DISTINCT ON (e.parcel_id) e.parcel_id, e.event_date
      FROM renewal_event e
      WHERE e.parcel_id IN (SELECT id FROM t) AND e.revoked_at IS NULL
      ORDER BY e.parcel_id, e.event_date DESC, e.id DESC
    ),
    review AS (
      SELECT d.parcel_id, d.due_date, s.outcome, s.figures_year, s.reviewed_on, s.results ->> 'summary' AS summary
      FROM v_standard_review_due d
      LEFT JOIN LATERAL (
        SELECT x.* FROM standard_review x WHERE x.agreement_id = d.agreement_id
        ORDER BY x.reviewed_on DESC, x.id DESC LIMIT 1
      ) s ON true
      WHERE d.parcel_id IN (SELECT id FROM t)
    ),
    milestone AS (
      SELECT t.id AS parcel_id, m.code, m.label, m.due
      -- a milestone is done when it or any later one has an actual date (old records often
      -- hold 投产 but not 开工)
      FROM t CROSS JOIN LATERAL (VALUES
        ('delivery', '交地', t.agreed_delivery_date,
         least(t.actual_delivery_date, t.actual_start_date, t.actual_completion_date, t.actual_production_date)),
        ('start', '开工', t.agreed_start_date,
         least(t.actual_start_date, t.actual_completion_date, t.actual_production_date)),
        ('completion', '竣工', t.agreed_completion_date, least(t.actual_completion_date, t.actual_production_date)),
        ('production', '投产', t.agreed_production_date, t.actual_production_date)
      ) AS m(code, label, due, done)
      WHERE m.due IS NOT NULL AND (m.done IS NULL OR m.done > $2)
    ),
    hits AS (
      SELECT i.parcel_id, r.code,
             CASE i.kind
               WHEN 'not_started' THEN format('约定开工日期 %s, 满一年未动工, 自 %s 起闲置', i.basis_date, i.idle_from)
               ELSE format('%s 起中止开发建设满一年, 自 %s 起闲置', i.basis_date, i.idle_from)
             END
             || CASE WHEN i.stage = 'recapture' THEN format('; 已满两年 (%s 起), 可无偿收回', i.recapture_from)
                     WHEN i.idle_fee_wan IS NOT NULL
                       THEN format('; 应征闲置费 %s 万元 (土地价款的20%%)', to_char(i.idle_fee_wan, 'FM999999999990.00'))
                     ELSE '; 政府原因或不可抗力, 协商处置' END AS reason
      FROM idle i JOIN r ON r.kind = 'idle_land'
      WHERE coalesce(r.params ->> 'stage', 'idle') <> 'recapture' OR i.stage = 'recapture'
      UNION ALL
      SELECT c.parcel_id, r.code, format('%s年度亩均效益综合评价 %s 类', c.year, c.class)
      FROM cls c JOIN r ON r.kind = 'eval_class' AND c.class = ANY (landgis_text_array(r.params -> 'classes'))
      UNION ALL
      SELECT t.id, r.code,
             format('更新状态: %s', landgis_status_label(t.renewal_status))
             || coalesce(format(' (自 %s, 已 %s 天)', s.event_date, $2 - s.event_date), '')
      FROM t JOIN r ON r.kind = 'renewal_status' AND t.renewal_status = ANY (landgis_text_array(r.params -> 'states'))
      LEFT JOIN since s ON s.parcel_id = t.id
      WHERE $2 - coalesce(s.event_date, $2) >= coalesce((r.params ->> 'min_days')::integer, 0)
      UNION ALL
      SELECT m.parcel_id, r.code,
             format('约定%s日期 %s, %s', m.label, m.due,
                    CASE WHEN m.due < $2 THEN format('已逾期 %s 天', $2 - m.due)
                         WHEN m.due = $2 THEN '今日到期'
                         ELSE format('还有 %s 天', m.due - $2) END)
      FROM milestone m JOIN r ON r.kind = 'contract_deadline'
      WHERE (r.params -> 'milestones' IS NULL OR m.code = ANY (landgis_text_array(r.params -> 'milestones')))
        AND m.due <= $2 + coalesce((r.params ->> 'days')::integer, 90)
        AND (m.due >= $2 OR (coalesce((r.params ->> 'include_overdue')::boolean, true)
                             AND m.due >= $2 - coalesce((r.params ->> 'max_overdue_days')::integer, 365)))
      UNION ALL
      SELECT v.parcel_id, r.code,
             format('达产复核应于 %s 进行, %s', v.due_date,
                    CASE WHEN v.due_date < $2 THEN format('已逾期 %s 天, 尚无复核记录', $2 - v.due_date)
                         WHEN v.due_date = $2 THEN '今日到期'
                         ELSE format('还有 %s 天', v.due_date - $2) END)
      FROM review v JOIN r ON r.kind = 'review_due'
      WHERE v.outcome IS NULL AND v.due_date IS NOT NULL
        AND v.due_date <= $2 + coalesce((r.params ->> 'days')::integer, 90)
        AND (v.due_date >= $2 OR coalesce((r.params ->> 'include_overdue')::boolean, true))
      UNION ALL
      SELECT v.parcel_id, r.code,
             format('%s年度数据达产复核 (%s) 未达标', v.figures_year, v.reviewed_on) || coalesce(': ' || v.summary, '')
      FROM review v JOIN r ON r.kind = 'review_failed'
      WHERE v.outcome = ANY (landgis_text_array(coalesce(r.params -> 'outcomes', '["failed"]'::jsonb)))
    ),
    kept AS (
      SELECT h.parcel_id, r.code, r.colour, r.label, r.sort_order, h.reason
      FROM hits h JOIN r ON r.code = h.code JOIN t ON t.id = h.parcel_id
      WHERE NOT t.renewal_status = ANY (landgis_text_array(r.params -> 'except_states'))
    )
    INSERT INTO parcel_colour AS pc (parcel_id, colour, reasons, as_of, computed_at)
    SELECT t.id,
           CASE WHEN bool_or(k.colour = 'red') THEN 'red' WHEN bool_or(k.colour = 'yellow') THEN 'yellow' ELSE 'green' END,
           CASE WHEN count(k.code) = 0
                THEN jsonb_build_array(jsonb_build_object(
                       'rule', 'none', 'colour', 'green', 'label', '正常', 'reason', '无红色或黄色预警事项'))
                ELSE jsonb_agg(jsonb_build_object('rule', k.code, 'colour', k.colour, 'label', k.label, 'reason', k.reason)
                               ORDER BY k.colour = 'yellow', k.sort_order, k.code, k.reason)
                     FILTER (WHERE k.code IS NOT NULL)
           END,
           $2, now()
    FROM t LEFT JOIN kept k ON k.parcel_id = t.id
    GROUP BY t.id
    ON CONFLICT (parcel_id) DO UPDATE
      SET colour = EXCLUDED.colour, reasons = EXCLUDED.reasons, as_of = EXCLUDED.as_of, computed_at = EXCLUDED.computed_at
      WHERE (pc.colour, pc.reasons, pc.as_of) IS DISTINCT FROM (EXCLUDED.colour, EXCLUDED.reasons, EXCLUDED.as_of)
  $q$, '{class_rows}', class_rows) USING target, as_of;
  GET DIAGNOSTICS changed = ROW_COUNT;
  PERFORM set_config('landgis.scope', saved_scope, true);
  RETURN changed;
END
$fn$;

-- Colours follow the data: parcels inserted, parcels whose dates, status or price changed, and
-- the rows of the tables the rules read. (Rule changes and a new evaluation run call
-- landgis_refresh_parcel_colour() themselves; date windows move daily: `landgis lifecycle colours
-- refresh` from cron.)
CREATE FUNCTION landgis_colour_on_parcel() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM landgis_refresh_parcel_colour(ARRAY(SELECT n.id FROM new_rows n));
  ELSE
    PERFORM landgis_refresh_parcel_colour(ARRAY(
      SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
      WHERE (n.renewal_status, n.region_code, n.land_price_wan,
             n.agreed_delivery_date, n.actual_delivery_date, n.agreed_start_date, n.actual_start_date,
             n.agreed_completion_date, n.actual_completion_date, n.agreed_production_date, n.actual_production_date)
        IS DISTINCT FROM
            (o.renewal_status, o.region_code, o.land_price_wan,
             o.agreed_delivery_date, o.actual_delivery_date, o.agreed_start_date, o.actual_start_date,
             o.agreed_completion_date, o.actual_completion_date, o.agreed_production_date, o.actual_production_date)));
  END IF;
  RETURN NULL;
END
$$;

-- TG_ARGV[0] names how a row leads to its parcel: 'parcel_id' or 'agreement_id'.
CREATE FUNCTION landgis_colour_on_related() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  ids bigint[];
BEGIN
  IF TG_ARGV[0] = 'agreement_id' THEN
    IF TG_OP = 'INSERT' THEN
      ids := ARRAY(SELECT a.parcel_id FROM new_rows n JOIN standard_agreement a ON a.id = n.agreement_id);
    ELSIF TG_OP = 'DELETE' THEN
      ids := ARRAY(SELECT a.parcel_id FROM old_rows o JOIN standard_agreement a ON a.id = o.agreement_id);
    ELSE
      ids := ARRAY(SELECT a.parcel_id FROM standard_agreement a
                   WHERE a.id IN (SELECT agreement_id FROM new_rows UNION SELECT agreement_id FROM old_rows));
    END IF;
  ELSE
    IF TG_OP = 'INSERT' THEN
      ids := ARRAY(SELECT DISTINCT n.parcel_id FROM new_rows n);
    ELSIF TG_OP = 'DELETE' THEN
      ids := ARRAY(SELECT DISTINCT o.parcel_id FROM old_rows o WHERE EXISTS (SELECT 1 FROM parcel p WHERE p.id = o.parcel_id));
    ELSE
      ids := ARRAY(SELECT parcel_id FROM new_rows UNION SELECT parcel_id FROM old_rows);
    END IF;
  END IF;
  PERFORM landgis_refresh_parcel_colour(ids);
  RETURN NULL;
END
$$;

CREATE TRIGGER parcel_colour_insert AFTER INSERT ON parcel REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION landgis_colour_on_parcel();
CREATE TRIGGER parcel_colour_update AFTER UPDATE ON parcel REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION landgis_colour_on_parcel();

CREATE TRIGGER renewal_event_colour_insert AFTER INSERT ON renewal_event REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION landgis_colour_on_related('parcel_id');
CREATE TRIGGER renewal_event_colour_update AFTER UPDATE ON renewal_event
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION landgis_colour_on_related('parcel_id');

CREATE TRIGGER land_progress_colour_insert AFTER INSERT ON land_progress REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION landgis_colour_on_related('parcel_id');
CREATE TRIGGER land_progress_colour_update AFTER UPDATE ON land_progress
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION landgis_colour_on_related('parcel_id');
CREATE TRIGGER land_progress_colour_delete AFTER DELETE ON land_progress REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION landgis_colour_on_related('parcel_id');

CREATE TRIGGER standard_agreement_colour_insert AFTER INSERT ON standard_agreement REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION landgis_colour_on_related('parcel_id');
CREATE TRIGGER standard_agreement_colour_update AFTER UPDATE ON standard_agreement
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION landgis_colour_on_related('parcel_id');
CREATE TRIGGER standard_agreement_colour_delete AFTER DELETE ON standard_agreement REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION landgis_colour_on_related('parcel_id');

CREATE TRIGGER standard_review_colour_insert AFTER INSERT ON standard_review REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION landgis_colour_on_related('agreement_id');
CREATE TRIGGER standard_review_colour_update AFTER UPDATE ON standard_review
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION landgis_colour_on_related('agreement_id');
CREATE TRIGGER standard_review_colour_delete AFTER DELETE ON standard_review REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION landgis_colour_on_related('agreement_id');

-- ---------------------------------------------------------------------------------------------
-- What the map layer and the zone totals read, in the caller's region scope.

CREATE VIEW v_parcel_colour AS
SELECT c.parcel_id, p.land_code, c.colour, c.reasons, c.as_of
FROM parcel_colour c JOIN parcel p ON p.id = c.parcel_id
WHERE landgis_in_scope(p.region_code);

-- Each renewal event that counts as 治理 and/or 腾出, with the parcel's current zone and region.
CREATE VIEW v_renewal_event_counted AS
SELECT e.id AS event_id, e.parcel_id, p.land_code, p.zone_id, p.region_code,
       extract(year FROM e.event_date)::integer AS year, e.event_date, e.from_status, e.to_status,
       e.renewal_mode, e.area_mu, e.counts_governed, e.counts_freed, e.documents, e.recorded_by
FROM renewal_event e JOIN parcel p ON p.id = e.parcel_id
WHERE e.revoked_at IS NULL AND (e.counts_governed OR e.counts_freed) AND landgis_in_scope(p.region_code);

-- 治理面积 and 腾出面积 (亩) per zone, region and year, from the renewal events (the
-- evaluation's v_renewal_area_by_year has the same columns).
CREATE VIEW v_renewal_event_area_by_year AS
SELECT zone_id, region_code, year,
       coalesce(sum(area_mu) FILTER (WHERE counts_governed), 0)::double precision AS governed_mu,
       coalesce(sum(area_mu) FILTER (WHERE counts_freed), 0)::double precision AS freed_mu
FROM v_renewal_event_counted
GROUP BY zone_id, region_code, year;

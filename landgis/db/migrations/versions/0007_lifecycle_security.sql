-- Functions and triggers of revision 0007_lifecycle_security (the life cycle under accounts).
-- Frozen with the revision: a later change is a new revision with CREATE OR REPLACE.

-- ---------------------------------------------------------------------------------------------
-- Colours. Colours are derived data, computed whole from everything that bears on a parcel
-- (including rows a scoped writer cannot see, e.g. an evaluation across the enterprise's land),
-- and the service role may not write parcel_colour itself. So the computation of 0006 becomes
-- landgis_compute_parcel_colour, SECURITY DEFINER and callable only by the schema's owner, and
-- landgis_refresh_parcel_colour in front of it refreshes the caller's parcels only: ids outside
-- the caller's scope are dropped before anything is computed, and the service role without a
-- scope refreshes nothing (like the restrictive policies, it fails closed).
ALTER FUNCTION landgis_refresh_parcel_colour(bigint[], date) RENAME TO landgis_compute_parcel_colour;
ALTER FUNCTION landgis_compute_parcel_colour(bigint[], date) SECURITY DEFINER SET search_path = public, pg_temp;
REVOKE EXECUTE ON FUNCTION landgis_compute_parcel_colour(bigint[], date) FROM PUBLIC;

CREATE FUNCTION landgis_refresh_parcel_colour(ids bigint[] DEFAULT NULL, as_of date DEFAULT current_date)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  target bigint[];
BEGIN
  -- current_user is the owner here; the role the caller SET is still in the 'role' setting.
  IF current_setting('role') = 'landgis_app' AND landgis_setting('landgis.scope') IS NULL THEN
    RETURN 0;
  END IF;
  -- The caller's scope is still in force: only its parcels are refreshed.
  target := ARRAY(
    SELECT p.id FROM parcel p
    WHERE (ids IS NULL OR p.id = ANY (ids)) AND landgis_in_scope(p.region_code));
  RETURN landgis_compute_parcel_colour(target, as_of);
END
$$;
REVOKE EXECUTE ON FUNCTION landgis_refresh_parcel_colour(bigint[], date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION landgis_refresh_parcel_colour(bigint[], date) TO landgis_app;

-- ---------------------------------------------------------------------------------------------
-- Whether the caller may see project pid (its region is in scope, or it is placed on a parcel
-- that is): the WITH CHECK of project_parcel's policy. SECURITY DEFINER because that policy may
-- not query project itself (project's policy queries project_parcel: the planner would see a
-- recursion); every check is therefore an explicit landgis_in_scope() of the caller's scope.
CREATE FUNCTION landgis_project_visible(pid bigint) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT landgis_scope_unrestricted()
      OR landgis_in_scope((SELECT j.region_code FROM project j WHERE j.id = pid))
      OR EXISTS (SELECT 1 FROM project_parcel l JOIN parcel p ON p.id = l.parcel_id
                 WHERE l.project_id = pid AND landgis_in_scope(p.region_code))
$$;
REVOKE EXECUTE ON FUNCTION landgis_project_visible(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION landgis_project_visible(bigint) TO landgis_app;

-- ---------------------------------------------------------------------------------------------
-- One way for the service to change a renewal status: the workflow, which writes the step (or
-- marks it revoked) in renewal_event first and then the parcel. An update of renewal_status by
-- the service role without the matching step of this transaction is refused, whatever code
-- issued it (attribute edits, a future bulk edit ...). Batch jobs and the command line, which
-- load statuses from a county's files, are not the service role and are not checked.
CREATE FUNCTION landgis_renewal_status_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF current_user = 'landgis_app' AND NOT EXISTS (
    SELECT 1 FROM renewal_event e
    WHERE e.parcel_id = NEW.id
      AND ((e.revoked_at IS NULL AND e.recorded_at = now()
            AND e.from_status = OLD.renewal_status AND e.to_status = NEW.renewal_status)
        OR (e.revoked_at = now() AND e.from_status = NEW.renewal_status AND e.to_status = OLD.renewal_status))
  ) THEN
    RAISE EXCEPTION USING
      ERRCODE = 'insufficient_privilege',
      MESSAGE = format('宗地 %s 的更新状态只能通过更新流程变更 (renewal_status changes only through the workflow)', NEW.id);
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER parcel_renewal_status_guard BEFORE UPDATE OF renewal_status ON parcel
FOR EACH ROW WHEN (OLD.renewal_status IS DISTINCT FROM NEW.renewal_status)
EXECUTE FUNCTION landgis_renewal_status_guard();

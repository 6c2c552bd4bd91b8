-- Undo the functions and triggers of 0007_lifecycle_security.sql.
DROP TRIGGER IF EXISTS parcel_renewal_status_guard ON parcel;
DROP FUNCTION IF EXISTS landgis_renewal_status_guard();
DROP FUNCTION IF EXISTS landgis_project_visible(bigint);
DROP FUNCTION IF EXISTS landgis_refresh_parcel_colour(bigint[], date);
ALTER FUNCTION landgis_compute_parcel_colour(bigint[], date) RENAME TO landgis_refresh_parcel_colour;
ALTER FUNCTION landgis_refresh_parcel_colour(bigint[], date) SECURITY INVOKER RESET search_path;
GRANT EXECUTE ON FUNCTION landgis_refresh_parcel_colour(bigint[], date) TO PUBLIC;

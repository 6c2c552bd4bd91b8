-- Undo the functions of 0008_integration.sql.
ALTER FUNCTION landgis_evaluation_run_deleted() RESET landgis.scope;
ALTER FUNCTION landgis_evaluation_run_deleted() SECURITY INVOKER RESET search_path;
DROP FUNCTION IF EXISTS landgis_aggregate_marks();
DROP FUNCTION IF EXISTS landgis_build_totals_cell(integer);
DROP FUNCTION IF EXISTS landgis_build_parcel_year_stat(integer);

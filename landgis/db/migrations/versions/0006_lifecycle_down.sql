-- Undo the functions, triggers and views of 0006_lifecycle.sql (the tables go afterwards).
DROP VIEW IF EXISTS v_renewal_event_area_by_year;
DROP VIEW IF EXISTS v_renewal_event_counted;
DROP VIEW IF EXISTS v_parcel_colour;
DROP TRIGGER IF EXISTS parcel_colour_insert ON parcel;
DROP TRIGGER IF EXISTS parcel_colour_update ON parcel;
DROP TRIGGER IF EXISTS parcel_land_code ON parcel;
-- CASCADE drops the triggers of the lifecycle tables that call them.
DROP FUNCTION IF EXISTS landgis_colour_on_related() CASCADE;
DROP FUNCTION IF EXISTS landgis_colour_on_parcel();
DROP FUNCTION IF EXISTS landgis_refresh_parcel_colour(bigint[], date);
DROP VIEW IF EXISTS v_standard_review_due;
DROP FUNCTION IF EXISTS landgis_idle_land(date, bigint[]);
DROP FUNCTION IF EXISTS landgis_land_code();
DROP FUNCTION IF EXISTS landgis_generated_land_code(text);
DROP FUNCTION IF EXISTS landgis_status_label(text);
DROP FUNCTION IF EXISTS landgis_text_array(jsonb);
DROP FUNCTION IF EXISTS landgis_period_end(date, integer);

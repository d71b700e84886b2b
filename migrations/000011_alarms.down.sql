CREATE OR REPLACE FUNCTION tree_bump_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Two branches: a TRUNCATE trigger has no transition table to look at.
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE tree_versions SET version = version + 1 WHERE tree = TG_ARGV[0];
    ELSIF EXISTS (SELECT FROM changed) THEN
        UPDATE tree_versions SET version = version + 1 WHERE tree = TG_ARGV[0];
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER patients_alarms_update ON patients;
DROP TRIGGER predictions_alarms_update ON predictions;
DROP TRIGGER predictions_alarms_insert ON predictions;
DROP FUNCTION alarms_from_patients();
DROP FUNCTION alarms_from_predictions();
DROP FUNCTION alarms_lock_patients(bigint[]);
DROP TABLE alarm_events_pruned;
DROP TABLE alarm_events;
DROP FUNCTION alarm_events_number();
DROP SEQUENCE alarm_events_id;
DROP SEQUENCE alarm_events_provisional;
DROP TABLE alarms;
DROP FUNCTION alarm_events_changed();
DROP FUNCTION alarm_events_opened();
DROP TABLE alarm_rules;

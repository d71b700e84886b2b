-- Alarms: a patient whose predicted risk turns high. Triggers raise and
-- resolve them, so that every writer of predictions and patients (the API,
-- the import, plain SQL) does so in its own transaction, and a refused batch
-- changes none. Every change of an alarm is kept as an event, numbered in
-- commit order and announced with NOTIFY, for the live streams to replay.

-- One rule per prediction target: open at or above open_at, resolve below
-- clear_below; in between nothing changes, so that an alarm does not flap.
CREATE TABLE alarm_rules (
    target      text PRIMARY KEY CHECK (char_length(target) BETWEEN 1 AND 64),
    open_at     double precision NOT NULL,
    clear_below double precision NOT NULL,
    CHECK (0 <= clear_below AND clear_below <= open_at AND open_at <= 1)
);

-- decided_at is the predicted_at of the last prediction that changed the
-- alarm (the one that opened it, then the one that resolved it): a
-- prediction no later than it changes nothing, however late it arrives.
CREATE TABLE alarms (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id      bigint NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    target          text NOT NULL,
    model           text NOT NULL,
    probability     double precision NOT NULL,
    predicted_at    timestamptz NOT NULL,
    opened_at       timestamptz NOT NULL DEFAULT now(),
    state           text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'resolved')),
    acknowledged_at timestamptz,
    acknowledged_by text,
    resolved_at     timestamptz,
    resolved_reason text CHECK (resolved_reason IN ('recovered', 'discharged', 'died')),
    decided_at      timestamptz NOT NULL,
    CHECK ((state = 'resolved') = (resolved_at IS NOT NULL AND resolved_reason IS NOT NULL))
);

-- At most one alarm in force per (patient, target).
CREATE UNIQUE INDEX alarms_active ON alarms (patient_id, target) WHERE state <> 'resolved';
-- The latest alarm of a (patient, target), which decides what a prediction does.
CREATE INDEX alarms_patient ON alarms (patient_id, target, id);

-- An event is the alarm as one change left it, with the patient's uid and
-- ward at the time. Its id is given at commit (alarm_events_number), so that
-- ids increase in commit order: a reader that has seen id N has seen every
-- event committed before it. Until then the id is provisional and negative.
CREATE SEQUENCE alarm_events_provisional;
CREATE SEQUENCE alarm_events_id;
CREATE TABLE alarm_events (
    id              bigint PRIMARY KEY DEFAULT -nextval('alarm_events_provisional'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    alarm_id        bigint NOT NULL,
    patient_uid     text NOT NULL,
    ward_id         bigint,
    -- left_ward_id is the ward a patient left, on the event of a move: the
    -- streams of both wards get it.
    left_ward_id    bigint,
    target          text NOT NULL,
    model           text NOT NULL,
    probability     double precision NOT NULL,
    predicted_at    timestamptz NOT NULL,
    opened_at       timestamptz NOT NULL,
    state           text NOT NULL,
    acknowledged_at timestamptz,
    acknowledged_by text,
    resolved_at     timestamptz,
    resolved_reason text
);
CREATE INDEX alarm_events_created ON alarm_events (created_at);

-- pruned_through is the highest event id pruning has removed: a reader
-- asking for the events after an id below it has lost some.
CREATE TABLE alarm_events_pruned (
    pruned_through bigint NOT NULL
);
INSERT INTO alarm_events_pruned VALUES (0);

-- alarm_events_opened and alarm_events_changed keep the alarms a statement
-- inserted or changed as events. An alarm inserted already resolved (opened
-- and resolved by one batch) gets its opening event first, as it was when
-- it opened.
CREATE FUNCTION alarm_events_opened() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO alarm_events (alarm_id, patient_uid, ward_id, target, model, probability, predicted_at, opened_at,
                              state, acknowledged_at, acknowledged_by, resolved_at, resolved_reason)
    SELECT a.id, p.uid, p.ward_id, a.target, a.model, a.probability, a.predicted_at, a.opened_at,
           e.state, e.acknowledged_at, e.acknowledged_by, e.resolved_at, e.resolved_reason
    FROM new_rows a
    JOIN patients p ON p.id = a.patient_id
    CROSS JOIN LATERAL (
        SELECT 1 AS phase, 'open' AS state, NULL::timestamptz AS acknowledged_at, NULL AS acknowledged_by,
               NULL::timestamptz AS resolved_at, NULL AS resolved_reason
        UNION ALL
        SELECT 2, a.state, a.acknowledged_at, a.acknowledged_by, a.resolved_at, a.resolved_reason
        WHERE a.state <> 'open'
    ) e
    ORDER BY a.id, e.phase;
    RETURN NULL;
END
$$;

CREATE FUNCTION alarm_events_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO alarm_events (alarm_id, patient_uid, ward_id, target, model, probability, predicted_at, opened_at,
                              state, acknowledged_at, acknowledged_by, resolved_at, resolved_reason)
    SELECT a.id, p.uid, p.ward_id, a.target, a.model, a.probability, a.predicted_at, a.opened_at,
           a.state, a.acknowledged_at, a.acknowledged_by, a.resolved_at, a.resolved_reason
    FROM new_rows a JOIN old_rows o USING (id) JOIN patients p ON p.id = a.patient_id
    WHERE a.state <> o.state
    ORDER BY a.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER alarms_insert_events AFTER INSERT ON alarms REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION alarm_events_opened();
CREATE TRIGGER alarms_update_events AFTER UPDATE ON alarms REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION alarm_events_changed();

-- alarm_events_number gives the transaction's events their ids at commit, in
-- the order they were recorded, and announces them. Its advisory lock is held
-- from there to the end of the commit, so that transactions number their
-- events in the order they commit; it is the last lock the transaction takes
-- and waits for nothing while it holds it, so it cannot be part of a
-- deadlock. The trigger fires once per event: the first firing numbers them
-- all and notes the lowest provisional id it numbered, and the others, with
-- nothing new, return at once.
CREATE FUNCTION alarm_events_number() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    numbered_to bigint := nullif(current_setting('canopy.alarm_events_numbered_to', true), '')::bigint;
    lowest bigint;
    last bigint;
BEGIN
    IF NEW.id >= numbered_to THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock(7310016);
    SELECT min(id) INTO lowest FROM alarm_events WHERE id < 0;
    IF lowest IS NULL THEN
        RETURN NULL;
    END IF;
    WITH numbered AS (
        SELECT provisional, nextval('alarm_events_id') AS id
        FROM (SELECT id AS provisional FROM alarm_events WHERE id < 0 ORDER BY id DESC) recorded
    )
    UPDATE alarm_events e SET id = n.id FROM numbered n WHERE e.id = n.provisional;
    PERFORM set_config('canopy.alarm_events_numbered_to', lowest::text, true);
    last := currval('alarm_events_id');
    PERFORM pg_notify('canopy_alarms', last::text);
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER alarm_events_number AFTER INSERT ON alarm_events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION alarm_events_number();

-- alarms_lock_patients takes the transaction's turn on each patient's alarms,
-- in id order, so that two transactions deciding alarms for the same patients
-- wait for each other instead of both raising one, and cannot deadlock.
CREATE FUNCTION alarms_lock_patients(patient_ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7310016, (id % 2147483648)::integer)
    FROM (SELECT DISTINCT id FROM unnest(patient_ids) AS u (id) ORDER BY id) ordered;
END
$$;

-- alarms_from_predictions opens and resolves the alarms a statement's
-- predictions call for, in one statement whatever their number. For each
-- (patient, target) with a rule it takes the predictions newer than the last
-- one that decided its alarm, keeps those that are high (>= open_at) or low
-- (< clear_below), in predicted_at order (at the same instant a high one
-- last: when models disagree, the alarm stands), and finds where they switch
-- between high and low, starting from high when an alarm is in force: a
-- switch to low resolves the alarm in force, a switch to high opens one,
-- resolved at once if a later switch in the same statement resolves it. A
-- patient discharged or dead gets no new alarm.
--
-- Only a high prediction can open an alarm, so only the patients with one
-- take their turn (most predictions are low, and most lows find no alarm to
-- resolve: they are dropped before the window functions). A low one
-- resolves under the alarm's row lock, rechecked when it waits: whatever
-- the interleaving, the outcome is one that the batches' commit order, run
-- one at a time, would give.
CREATE FUNCTION alarms_from_predictions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM alarm_rules) THEN
        RETURN NULL;
    END IF;
    PERFORM alarms_lock_patients(ARRAY(
        SELECT n.patient_id FROM new_rows n JOIN alarm_rules r USING (target) WHERE n.probability >= r.open_at));
    WITH rated AS (
        SELECT n.patient_id, n.target, n.model, n.probability, n.predicted_at, n.probability >= r.open_at AS high
        FROM new_rows n JOIN alarm_rules r USING (target)
        WHERE n.probability >= r.open_at OR n.probability < r.clear_below
    ),
    -- The checks are scalar subqueries, one index probe per prediction: as
    -- EXISTS, the planner may hash all the patients, or all the alarms in
    -- force, for every batch.
    high_keys AS (
        SELECT DISTINCT patient_id, target FROM rated WHERE high
    ),
    signals AS (
        SELECT s.*
        FROM rated s LEFT JOIN high_keys k USING (patient_id, target)
        WHERE CASE WHEN s.high
            THEN (SELECT p.discharged_at IS NULL AND p.died_at IS NULL FROM patients p WHERE p.id = s.patient_id)
            ELSE k.patient_id IS NOT NULL
              OR (SELECT count(*) > 0 FROM alarms a WHERE a.patient_id = s.patient_id AND a.target = s.target AND a.state <> 'resolved')
        END
    ),
    -- Each (patient, target)'s latest alarm, one probe of alarms_patient
    -- apiece: the alarms of all time are never scanned.
    latest AS (
        SELECT k.patient_id, k.target, l.id, l.active, l.decided_at
        FROM (SELECT DISTINCT patient_id, target FROM signals) k
        CROSS JOIN LATERAL (
            SELECT a.id, a.state <> 'resolved' AS active, a.decided_at
            FROM alarms a
            WHERE a.patient_id = k.patient_id AND a.target = k.target
            ORDER BY a.id DESC
            LIMIT 1
        ) l
    ),
    steps AS (
        SELECT s.*, l.id AS alarm_id,
               s.high <> lag(s.high, 1, coalesce(l.active, false)) OVER w AS switch
        FROM signals s LEFT JOIN latest l USING (patient_id, target)
        WHERE s.predicted_at > coalesce(l.decided_at, '-infinity')
        WINDOW w AS (PARTITION BY s.patient_id, s.target ORDER BY s.predicted_at, s.high, s.model)
    ),
    switches AS (
        SELECT steps.*, lead(predicted_at) OVER w AS off_at, row_number() OVER w = 1 AS first
        FROM steps WHERE switch
        WINDOW w AS (PARTITION BY patient_id, target ORDER BY predicted_at, high, model)
    ),
    recovered AS (
        UPDATE alarms a
        SET state = 'resolved', resolved_at = now(), resolved_reason = 'recovered', decided_at = s.predicted_at
        FROM switches s
        WHERE s.first AND NOT s.high AND a.id = s.alarm_id AND a.state <> 'resolved'
        RETURNING 1
    )
    -- Reading recovered first makes the update run before the insert, which
    -- may open the next alarm of a (patient, target) it resolved.
    INSERT INTO alarms (patient_id, target, model, probability, predicted_at, state, resolved_at, resolved_reason, decided_at)
    SELECT patient_id, target, model, probability, predicted_at,
           CASE WHEN off_at IS NULL THEN 'open' ELSE 'resolved' END,
           CASE WHEN off_at IS NOT NULL THEN now() END,
           CASE WHEN off_at IS NOT NULL THEN 'recovered' END,
           coalesce(off_at, predicted_at)
    FROM switches
    WHERE high AND (SELECT count(*) FROM recovered) >= 0
    ORDER BY patient_id, target, predicted_at;
    RETURN NULL;
END
$$;

CREATE TRIGGER predictions_alarms_insert AFTER INSERT ON predictions REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION alarms_from_predictions();
CREATE TRIGGER predictions_alarms_update AFTER UPDATE ON predictions REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION alarms_from_predictions();

-- alarms_from_patients resolves the alarms of patients a statement
-- discharged or recorded dead (a death wins when both happen at once), and
-- records the alarms of patients it moved to another ward.
CREATE FUNCTION alarms_from_patients() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    gone bigint[] := ARRAY(
        SELECT n.id FROM new_rows n JOIN old_rows o USING (id)
        WHERE (n.died_at IS NOT NULL AND o.died_at IS NULL) OR (n.discharged_at IS NOT NULL AND o.discharged_at IS NULL));
    moved bigint[] := ARRAY(
        SELECT n.id FROM new_rows n JOIN old_rows o USING (id) WHERE n.ward_id IS DISTINCT FROM o.ward_id);
BEGIN
    IF cardinality(gone) = 0 AND cardinality(moved) = 0 THEN
        RETURN NULL;
    END IF;
    -- The patients' turn on their alarms first: a predictions batch that
    -- opens one meanwhile either commits first, and is seen below, or
    -- waits, and then sees the new ward and the discharge.
    PERFORM alarms_lock_patients(gone || moved);
    UPDATE alarms a
    SET state = 'resolved', resolved_at = now(),
        resolved_reason = CASE WHEN n.died_at IS NOT NULL THEN 'died' ELSE 'discharged' END
    FROM new_rows n
    WHERE n.id = ANY (gone) AND a.patient_id = n.id AND a.state <> 'resolved';
    -- A patient who moves takes their alarms in force along: each is sent
    -- again, to the streams of the ward left as well as of the ward joined.
    -- FOR UPDATE waits for an acknowledgement or a resolution under way,
    -- so that the event has the alarm as it is, and comes after theirs.
    WITH moving AS (
        SELECT a.* FROM alarms a WHERE a.patient_id = ANY (moved) AND a.state <> 'resolved' FOR UPDATE
    )
    INSERT INTO alarm_events (alarm_id, patient_uid, ward_id, left_ward_id, target, model, probability, predicted_at,
                              opened_at, state, acknowledged_at, acknowledged_by, resolved_at, resolved_reason)
    SELECT a.id, n.uid, n.ward_id, o.ward_id, a.target, a.model, a.probability, a.predicted_at,
           a.opened_at, a.state, a.acknowledged_at, a.acknowledged_by, a.resolved_at, a.resolved_reason
    FROM moving a JOIN new_rows n ON n.id = a.patient_id JOIN old_rows o ON o.id = n.id
    ORDER BY a.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER patients_alarms_update AFTER UPDATE ON patients REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION alarms_from_patients();

-- Tree versions are announced too, for the trees' live streams: a NOTIFY
-- is delivered at commit, in commit order, to every canopy instance.
CREATE OR REPLACE FUNCTION tree_bump_version() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bumped bigint;
BEGIN
    -- Two branches: a TRUNCATE trigger has no transition table to look at.
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE tree_versions SET version = version + 1 WHERE tree = TG_ARGV[0] RETURNING version INTO bumped;
    ELSIF EXISTS (SELECT FROM changed) THEN
        UPDATE tree_versions SET version = version + 1 WHERE tree = TG_ARGV[0] RETURNING version INTO bumped;
    ELSE
        RETURN NULL;
    END IF;
    PERFORM pg_notify('canopy_trees', TG_ARGV[0] || ' ' || bumped);
    RETURN NULL;
END
$$;

package queries

import (
	"context"
	"strings"
	"time"

	sq "github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5"
)

// AlarmRule says when a prediction of Target opens an alarm (probability ≥
// OpenAt) and when a later one resolves it (< ClearBelow). The triggers of
// migration 000011 apply the rules, for every writer of predictions.
type AlarmRule struct {
	Target     string
	OpenAt     float64
	ClearBelow float64
}

// The states of an alarm, and why a resolved one was resolved.
const (
	AlarmOpen         = "open"
	AlarmAcknowledged = "acknowledged"
	AlarmResolved     = "resolved"
)

// AlarmStates are the states an alarm can be in, for a filter's values.
var AlarmStates = []string{AlarmOpen, AlarmAcknowledged, AlarmResolved}

// Alarm is a (patient, target) whose predicted risk turned high, as the
// prediction that opened it left it and as staff and later predictions
// changed it since. WardID is the patient's ward.
type Alarm struct {
	ID             int64
	PatientUID     string
	WardID         *int64
	Target         string
	Model          string
	Probability    float64
	PredictedAt    time.Time
	OpenedAt       time.Time
	State          string
	AcknowledgedAt *time.Time
	AcknowledgedBy *string
	ResolvedAt     *time.Time
	ResolvedReason *string
}

// alarmColumns are an alarm's columns in Alarm's order, with the patient's
// uid and ward: alarms a joined to patients p, or an alarm_events row,
// which has them under the same names.
var alarmColumns = []string{"alarm_id", "patient_uid", "ward_id", "target", "model", "probability", "predicted_at",
	"opened_at", "state", "acknowledged_at", "acknowledged_by", "resolved_at", "resolved_reason"}

// alarmSelect is alarmColumns over alarms a joined to patients p.
const alarmSelect = `a.id, p.uid, p.ward_id, a.target, a.model, a.probability, a.predicted_at,
       a.opened_at, a.state, a.acknowledged_at, a.acknowledged_by, a.resolved_at, a.resolved_reason`

func (a *Alarm) fields() []any {
	return []any{&a.ID, &a.PatientUID, &a.WardID, &a.Target, &a.Model, &a.Probability, &a.PredictedAt,
		&a.OpenedAt, &a.State, &a.AcknowledgedAt, &a.AcknowledgedBy, &a.ResolvedAt, &a.ResolvedReason}
}

const putAlarmRuleSQL = `
INSERT INTO alarm_rules (target, open_at, clear_below) VALUES ($1, $2, $3)
ON CONFLICT (target) DO UPDATE SET open_at = excluded.open_at, clear_below = excluded.clear_below`

// PutAlarmRule sets the rule of r.Target, replacing the one it had. The
// caller has checked 0 ≤ ClearBelow ≤ OpenAt ≤ 1.
func (s *Store) PutAlarmRule(ctx context.Context, r AlarmRule) error {
	_, err := s.db.Exec(ctx, putAlarmRuleSQL, r.Target, r.OpenAt, r.ClearBelow)
	return translate(err)
}

const alarmRulesSQL = `SELECT target, open_at, clear_below FROM alarm_rules ORDER BY target`

// AlarmRules are all the rules, by target.
func (s *Store) AlarmRules(ctx context.Context) ([]AlarmRule, error) {
	rows, _ := s.db.Query(ctx, alarmRulesSQL)
	rules, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AlarmRule, error) {
		var r AlarmRule
		err := row.Scan(&r.Target, &r.OpenAt, &r.ClearBelow)
		return r, err
	})
	return rules, translate(err)
}

const deleteAlarmRuleSQL = `DELETE FROM alarm_rules WHERE target = $1`

// DeleteAlarmRule removes the rule of target (ErrNotFound if it has none);
// the alarms it raised stay as they are.
func (s *Store) DeleteAlarmRule(ctx context.Context, target string) error {
	tag, err := s.db.Exec(ctx, deleteAlarmRuleSQL, target)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// AlarmQuery selects a page of alarms, newest first: those of WardID's
// patients, of PatientUID, in one of States (all when empty), after the
// alarm with id After (the last of the previous page).
type AlarmQuery struct {
	WardID     *int64
	PatientUID *string
	States     []string
	After      *int64
	Limit      int
}

// Alarms is a page of alarms, by the query's filters, newest first.
func (s *Store) Alarms(ctx context.Context, q AlarmQuery) ([]Alarm, error) {
	sql, args, err := alarmsStatement(q).ToSql()
	if err != nil {
		return nil, err
	}
	rows, _ := s.db.Query(ctx, sql, args...)
	alarms, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Alarm, error) {
		var a Alarm
		err := row.Scan(a.fields()...)
		return a, err
	})
	return alarms, translate(err)
}

func alarmsStatement(q AlarmQuery) sq.SelectBuilder {
	statement := sq.Select(alarmSelect).From("alarms a").Join("patients p ON p.id = a.patient_id").
		OrderBy("a.id DESC").Limit(uint64(q.Limit)).PlaceholderFormat(sq.Dollar)
	if q.WardID != nil {
		statement = statement.Where(sq.Eq{"p.ward_id": *q.WardID})
	}
	if q.PatientUID != nil {
		statement = statement.Where(sq.Eq{"p.uid": *q.PatientUID})
	}
	if len(q.States) > 0 {
		statement = statement.Where("a.state = ANY (?)", q.States)
	}
	if q.After != nil {
		statement = statement.Where(sq.Lt{"a.id": *q.After})
	}
	return statement
}

// acknowledgeAlarmSQL acknowledges an open alarm for $2. An alarm that is
// not open comes back as it is, read FOR UPDATE so that an alarm resolved
// while the update waited for it is seen resolved.
const acknowledgeAlarmSQL = `
WITH acknowledged AS (
    UPDATE alarms SET state = 'acknowledged', acknowledged_at = now(), acknowledged_by = $2
    WHERE id = $1 AND state = 'open'
    RETURNING *
),
alarm AS (
    SELECT * FROM acknowledged
    UNION ALL
    SELECT * FROM (SELECT * FROM alarms WHERE id = $1 FOR UPDATE) current
    WHERE NOT EXISTS (SELECT FROM acknowledged)
)
SELECT ` + alarmSelect + ` FROM alarm a JOIN patients p ON p.id = a.patient_id`

// AcknowledgeAlarm marks the open alarm id acknowledged by by, and returns
// it. An alarm already acknowledged comes back unchanged; a resolved one is
// ErrConflict (with the alarm), an unknown one ErrNotFound.
func (s *Store) AcknowledgeAlarm(ctx context.Context, id int64, by string) (Alarm, error) {
	var a Alarm
	err := translate(s.db.QueryRow(ctx, acknowledgeAlarmSQL, id, by).Scan(a.fields()...))
	if err == nil && a.State == AlarmResolved {
		err = ErrConflict
	}
	return a, err
}

// AlarmEvent is one change of an alarm: the alarm as the change left it.
// IDs increase in commit order. LeftWardID is the ward the patient left,
// on the event of a move; the event concerns both wards.
type AlarmEvent struct {
	ID int64
	Alarm
	LeftWardID *int64
}

// Concerns reports whether the event belongs on ward's stream (every
// event belongs on the stream of all wards, nil).
func (e AlarmEvent) Concerns(ward *int64) bool {
	return ward == nil || e.WardID != nil && *e.WardID == *ward || e.LeftWardID != nil && *e.LeftWardID == *ward
}

// AlarmEventsMax bounds a read of events: a reader with more to catch up
// on reads again after the last.
const AlarmEventsMax = 1000

// alarmEventsSQL reads the events after $1, of ward $2 (all when null), in
// order, at most $3.
var alarmEventsSQL = `
SELECT id, ` + strings.Join(alarmColumns, ", ") + `, left_ward_id
FROM alarm_events
WHERE id > $1 AND ($2::bigint IS NULL OR ward_id = $2 OR left_ward_id = $2)
ORDER BY id
LIMIT $3`

// AlarmEventsAfter reads, in order, up to AlarmEventsMax events after the
// event with id after, of ward's patients (every ward when nil).
func (s *Store) AlarmEventsAfter(ctx context.Context, after int64, ward *int64) ([]AlarmEvent, error) {
	rows, _ := s.db.Query(ctx, alarmEventsSQL, after, ward, AlarmEventsMax)
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AlarmEvent, error) {
		var e AlarmEvent
		err := row.Scan(append(append([]any{&e.ID}, e.Alarm.fields()...), &e.LeftWardID)...)
		return e, err
	})
	return events, translate(err)
}

// alarmEventsLostSQL: pruning has removed events after $1, or $1 is no id
// this database gave (a client of another database, or of one restored).
const alarmEventsLostSQL = `
SELECT $1 < pruned_through OR $1 > coalesce(pg_sequence_last_value('alarm_events_id'), 0)
FROM alarm_events_pruned`

// AlarmEventsLost says whether some events after the one with id after are
// gone for good, so that a reader who saw it cannot catch up by reading.
func (s *Store) AlarmEventsLost(ctx context.Context, after int64) (bool, error) {
	var lost bool
	err := s.db.QueryRow(ctx, alarmEventsLostSQL, after).Scan(&lost)
	return lost, translate(err)
}

const lastAlarmEventSQL = `SELECT coalesce(max(id), 0) FROM alarm_events`

// LastAlarmEvent is the id of the latest event committed (0 for none): a
// reader starting now reads the events after it.
func (s *Store) LastAlarmEvent(ctx context.Context) (int64, error) {
	var id int64
	err := s.db.QueryRow(ctx, lastAlarmEventSQL).Scan(&id)
	return id, translate(err)
}

// pruneAlarmEventsSQL deletes the events older than $1 in one statement,
// and moves the horizon of what can be replayed past them.
const pruneAlarmEventsSQL = `
WITH pruned AS (
    DELETE FROM alarm_events WHERE created_at < $1 AND id > 0 RETURNING id
),
horizon AS (
    UPDATE alarm_events_pruned SET pruned_through = greatest(pruned_through, (SELECT max(id) FROM pruned))
    WHERE EXISTS (SELECT FROM pruned)
)
SELECT count(*) FROM pruned`

// PruneAlarmEvents deletes the events recorded before before, returning how
// many; a reader asking for the events after one of them is then told they
// are lost (AlarmEventsAfter).
func (s *Store) PruneAlarmEvents(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, pruneAlarmEventsSQL, before).Scan(&n)
	return n, translate(err)
}

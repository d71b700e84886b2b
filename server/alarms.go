package server

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"canopy/optional"
	"canopy/queries"
	"canopy/rules"
)

type alarmRuleJSON struct {
	Target     string  `json:"target"`
	OpenAt     float64 `json:"open_at"`
	ClearBelow float64 `json:"clear_below"`
}

type alarmJSON struct {
	ID             int64    `json:"id"`
	PatientUID     string   `json:"patient_uid"`
	WardID         *int64   `json:"ward_id"`
	Target         string   `json:"target"`
	Model          string   `json:"model"`
	Probability    float64  `json:"probability"`
	PredictedAt    instant  `json:"predicted_at"`
	OpenedAt       instant  `json:"opened_at"`
	State          string   `json:"state"`
	AcknowledgedAt *instant `json:"acknowledged_at"`
	AcknowledgedBy *string  `json:"acknowledged_by"`
	ResolvedAt     *instant `json:"resolved_at"`
	ResolvedReason *string  `json:"resolved_reason"`
}

func toAlarmJSON(a queries.Alarm) alarmJSON {
	j := alarmJSON{ID: a.ID, PatientUID: a.PatientUID, WardID: a.WardID, Target: a.Target, Model: a.Model,
		Probability: a.Probability, PredictedAt: instant{a.PredictedAt.UTC()}, OpenedAt: instant{a.OpenedAt.UTC()},
		State: a.State, AcknowledgedBy: a.AcknowledgedBy, ResolvedReason: a.ResolvedReason}
	if a.AcknowledgedAt != nil {
		j.AcknowledgedAt = &instant{a.AcknowledgedAt.UTC()}
	}
	if a.ResolvedAt != nil {
		j.ResolvedAt = &instant{a.ResolvedAt.UTC()}
	}
	return j
}

// alarmTarget is the rule's target named by the path. For a PUT, which
// creates the rule, a target no prediction could have is 422; for a read or
// a delete no rule has it (404).
func alarmTarget(c *gin.Context, creates bool) (string, error) {
	target := c.Param("target")
	err := rules.Text(target, rules.CodeMax)
	switch {
	case err == nil:
		return target, nil
	case errors.Is(err, rules.ErrNotUTF8):
		return "", badRequest("the target in the path is not UTF-8")
	case creates:
		return "", invalid("target", "%v", err)
	}
	return "", notFound("no alarm rule has target %q", target)
}

type alarmRuleFields struct {
	OpenAt     optional.Field[float64] `json:"open_at"`
	ClearBelow optional.Field[float64] `json:"clear_below"`
}

// check requires both thresholds, each from 0 to 1, clear_below no higher
// than open_at.
func (f alarmRuleFields) check() error {
	var errs []queries.FieldError
	for _, t := range []struct {
		name  string
		value optional.Field[float64]
	}{{"open_at", f.OpenAt}, {"clear_below", f.ClearBelow}} {
		switch {
		case !t.value.Set || t.value.Null:
			errs = append(errs, queries.FieldError{Index: -1, Field: t.name, Message: rules.ErrRequired.Error()})
		case rules.Number(t.value.Value, 0, 1) != nil:
			errs = append(errs, queries.FieldError{Index: -1, Field: t.name, Message: rules.NumberRange(0, 1).Error()})
		}
	}
	if len(errs) == 0 && f.ClearBelow.Value > f.OpenAt.Value {
		errs = append(errs, queries.FieldError{Index: -1, Field: "clear_below", Message: "must not be above open_at"})
	}
	if len(errs) > 0 {
		return &queries.ValidationError{Errors: errs}
	}
	return nil
}

// putAlarmRule sets the rule of a target, replacing the one it had: the
// alarms in force stay, and the new thresholds apply from the next batch.
func (s *Server) putAlarmRule(c *gin.Context) error {
	target, err := alarmTarget(c, true)
	if err != nil {
		return err
	}
	var f alarmRuleFields
	if err := decodeJSON(c.Request, &f); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	r := queries.AlarmRule{Target: target, OpenAt: f.OpenAt.Value, ClearBelow: f.ClearBelow.Value}
	if err := s.store.PutAlarmRule(c.Request.Context(), r); err != nil {
		return err
	}
	c.JSON(http.StatusOK, alarmRuleJSON(r))
	return nil
}

func (s *Server) listAlarmRules(c *gin.Context) error {
	rules, err := s.store.AlarmRules(c.Request.Context())
	if err != nil {
		return err
	}
	out := make([]alarmRuleJSON, len(rules))
	for i, r := range rules {
		out[i] = alarmRuleJSON(r)
	}
	c.JSON(http.StatusOK, gin.H{"rules": out})
	return nil
}

func (s *Server) deleteAlarmRule(c *gin.Context) error {
	target, err := alarmTarget(c, false)
	if err != nil {
		return err
	}
	if err := s.store.DeleteAlarmRule(c.Request.Context(), target); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// listAlarms serves a page of alarms, newest first, from one statement;
// next_cursor continues it, with the same filters.
func (s *Server) listAlarms(c *gin.Context) error {
	q, err := alarmQuery(c)
	if err != nil {
		return err
	}
	// One alarm more than the page tells whether there is a next page: the
	// last page's next_cursor is null, even when it is full.
	limit := q.Limit
	q.Limit++
	alarms, err := s.store.Alarms(c.Request.Context(), q)
	if err != nil {
		return err
	}
	var next *string
	if len(alarms) > limit {
		alarms = alarms[:limit]
		next = new(encodeAlarmCursor(alarms[limit-1].ID))
	}
	out := make([]alarmJSON, len(alarms))
	for i, a := range alarms {
		out[i] = toAlarmJSON(a)
	}
	c.JSON(http.StatusOK, gin.H{"alarms": out, "next_cursor": next})
	return nil
}

// alarmQuery parses the listing's parameters: limit, cursor and the
// filters ward_id, patient_uid and state (a comma-separated list).
func alarmQuery(c *gin.Context) (queries.AlarmQuery, error) {
	var q queries.AlarmQuery
	var err error
	if q.Limit, err = pageLimit(c); err != nil {
		return q, err
	}
	if raw, ok := c.GetQuery("cursor"); ok {
		if q.After, err = decodeAlarmCursor(raw); err != nil {
			return q, err
		}
	}
	if q.WardID, err = queryInt64(c, "ward_id", 1); err != nil {
		return q, err
	}
	if uid, ok := c.GetQuery("patient_uid"); ok {
		if rules.Text(uid, rules.CodeMax) != nil {
			return q, badRequest("patient_uid %q is not a patient uid", uid)
		}
		q.PatientUID = &uid
	}
	if raw, ok := c.GetQuery("state"); ok {
		for state := range strings.SplitSeq(raw, ",") {
			if !slices.Contains(queries.AlarmStates, state) {
				return q, badRequest("state %q is not one of %s", state, strings.Join(queries.AlarmStates, ", "))
			}
			q.States = append(q.States, state)
		}
	}
	return q, nil
}

// alarmCursorVersion leads every alarm cursor, so that a later format can
// tell old cursors apart.
const alarmCursorVersion = 1

// encodeAlarmCursor writes the id of a page's last alarm as an opaque cursor.
func encodeAlarmCursor(id int64) string {
	var b [9]byte
	b[0] = alarmCursorVersion
	binary.BigEndian.PutUint64(b[1:], uint64(id))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// decodeAlarmCursor reads a cursor encodeAlarmCursor wrote: 400 otherwise.
func decodeAlarmCursor(s string) (*int64, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != 9 || b[0] != alarmCursorVersion || int64(binary.BigEndian.Uint64(b[1:])) < 1 {
		return nil, badRequest("cursor %q is not a cursor of the alarm list", s)
	}
	id := int64(binary.BigEndian.Uint64(b[1:]))
	return &id, nil
}

// acknowledgeAlarm marks an open alarm acknowledged by the token's name.
// Acknowledging it again changes nothing; a resolved alarm is 409.
func (s *Server) acknowledgeAlarm(c *gin.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	a, err := s.store.AcknowledgeAlarm(c.Request.Context(), id, principalOf(c).Name)
	if errors.Is(err, queries.ErrConflict) {
		return &apiError{status: http.StatusConflict, code: codeConflict, detail: "the alarm is resolved: there is nothing left to acknowledge"}
	}
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, toAlarmJSON(a))
	return nil
}

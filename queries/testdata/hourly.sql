-- HourlyMeans: every patient's means over a day.
-- $1 = '2026-03-01T00:00:00Z'
-- $2 = '2026-03-02T00:00:00Z'
SELECT p.uid, m.hour, m.code, m.mean FROM (SELECT o.patient_id, date_bin('1 hour', o.observed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS hour, o.code, sum(o.value) / count(*) AS mean FROM observations o WHERE o.observed_at >= $1 AND o.observed_at < $2 GROUP BY 1, 2, 3) AS m JOIN patients p ON p.id = m.patient_id ORDER BY p.uid, m.hour, m.code;

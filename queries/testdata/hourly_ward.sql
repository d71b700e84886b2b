-- HourlyMeans: the means of ward 7's patients.
-- $1 = 7
-- $2 = '2026-03-01T00:00:00Z'
-- $3 = '2026-03-02T00:00:00Z'
WITH chosen AS MATERIALIZED (SELECT id, uid FROM patients WHERE ward_id = $1) SELECT p.uid, m.hour, m.code, m.mean FROM (SELECT o.patient_id, date_bin('1 hour', o.observed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS hour, o.code, sum(o.value) / count(*) AS mean FROM observations o WHERE o.observed_at >= $2 AND o.observed_at < $3 AND o.patient_id = ANY (ARRAY(SELECT id FROM chosen)) GROUP BY 1, 2, 3) AS m JOIN chosen p ON p.id = m.patient_id ORDER BY p.uid, m.hour, m.code;

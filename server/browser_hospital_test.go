package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"canopy/auth"
)

type demoWard struct {
	name           string
	beds, occupied int
}

type demoDepartment struct {
	name, code string
	wards      []demoWard
	children   []demoDepartment
}

// demoHospital has 122 beds, 85 of them occupied.
var demoHospital = []demoDepartment{
	{name: "Internal Medicine", code: "IM", children: []demoDepartment{
		{name: "Cardiology", code: "CARD", wards: []demoWard{{"Ward 3A", 20, 14}, {"Coronary Care Unit", 8, 7}}},
		{name: "Pulmonology", code: "PULM", wards: []demoWard{{"Ward 4B", 16, 9}}},
		{name: "Nephrology", code: "NEPH", wards: []demoWard{{"Dialysis Unit", 10, 4}}},
	}},
	{name: "Surgery", code: "SURG", children: []demoDepartment{
		{name: "General Surgery", code: "GS", wards: []demoWard{{"Ward 5A", 24, 22}}},
		{name: "Orthopedics", code: "ORTH", wards: []demoWard{{"Ward 5C", 18, 11}}},
	}},
	{name: "Emergency", code: "ED", wards: []demoWard{{"ED Observation", 12, 12}}},
	{name: "Pediatrics", code: "PED", wards: []demoWard{{"Ward 2A", 14, 6}}},
}

var demoNames = []string{"Kim Min-jun", "Lee Seo-yeon", "Park Ji-ho", "Choi Ha-eun", "Jung Do-yun", "Kang Ji-woo",
	"Cho Seo-jun", "Yoon Su-ah", "Jang Ye-jun", "Lim Chae-won", "Han Si-woo", "Oh Ha-rin", "Seo Joon-young", "Shin Yu-na"}

// createHospital stores the departments, wards, patients (with one
// discharged patient per ward, who does not count) and predictions through
// the API, and returns the ward ids by name.
func createHospital(t *testing.T, ts *testServer) map[string]int64 {
	t.Helper()
	writer := ts.token(auth.ScopeTreesWrite, auth.ScopePatientsWrite)
	wards := map[string]int64{}
	var patients []map[string]any
	admitted := time.Date(2024, 11, 18, 9, 30, 0, 0, time.UTC)
	var create func(parent *int64, d demoDepartment)
	create = func(parent *int64, d demoDepartment) {
		body := map[string]any{"name": d.name, "code": d.code}
		if parent != nil {
			body["parent_id"] = *parent
		}
		r := ts.do("POST", "/api/v1/departments", body, bearer(writer)...)
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("department %s: %d %s", d.name, r.StatusCode, r.Body)
		}
		var dept node
		r.decode(t, &dept)
		for _, w := range d.wards {
			r := ts.do("POST", "/api/v1/wards", map[string]any{"department_id": dept.ID, "name": w.name, "beds": w.beds}, bearer(writer)...)
			if r.StatusCode != http.StatusCreated {
				t.Fatalf("ward %s: %d %s", w.name, r.StatusCode, r.Body)
			}
			var ward wardJSON
			r.decode(t, &ward)
			wards[w.name] = ward.ID
			prefix := wardPrefix(w.name)
			for i := 0; i <= w.occupied; i++ {
				p := map[string]any{
					"uid": fmt.Sprintf("%s-%03d", prefix, i+1), "name": demoNames[(len(patients)+i)%len(demoNames)],
					"sex": []string{"F", "M"}[i%2], "birth_date": fmt.Sprintf("%d-%02d-%02d", 1940+(i*7)%60, 1+i%12, 1+i%28),
					"ward_id": ward.ID, "admitted_at": admitted.Add(-time.Duration(i*17) * time.Hour).Format(time.RFC3339),
				}
				if i == w.occupied {
					p["discharged_at"] = admitted.Format(time.RFC3339)
				}
				patients = append(patients, p)
			}
		}
		for _, c := range d.children {
			create(&dept.ID, c)
		}
	}
	for _, d := range demoHospital {
		create(nil, d)
	}
	if r := ts.do("POST", "/api/v1/patients/bulk", patients, bearer(writer)...); r.StatusCode != http.StatusOK {
		t.Fatalf("patients: %d %s", r.StatusCode, r.Body)
	}
	// Every inpatient gets a deterioration and a sepsis risk below 90%.
	// CCU-001's deterioration risk is the highest, and its older, lower one
	// must not be the one shown.
	var predictions []map[string]any
	at := admitted.Add(2 * time.Hour)
	for i, p := range patients {
		if _, discharged := p["discharged_at"]; discharged {
			continue
		}
		uid := p["uid"].(string)
		predictions = append(predictions,
			map[string]any{"patient_uid": uid, "model": "ews-v2", "target": "deterioration", "predicted_at": at.Format(time.RFC3339),
				"horizon_hours": 24, "probability": float64((i*37)%90) / 100},
			map[string]any{"patient_uid": uid, "model": "sepsis-v1", "target": "sepsis", "predicted_at": at.Format(time.RFC3339),
				"horizon_hours": 12, "probability": float64((i*53+11)%90) / 100})
	}
	for _, pr := range predictions {
		if pr["patient_uid"] == "CCU-001" {
			pr["probability"] = map[string]float64{"deterioration": 0.93, "sepsis": 0.35}[pr["target"].(string)]
		}
	}
	predictions = append(predictions, map[string]any{"patient_uid": "CCU-001", "model": "ews-v2", "target": "deterioration",
		"predicted_at": at.Add(-6 * time.Hour).Format(time.RFC3339), "horizon_hours": 24, "probability": 0.1})
	if r := ts.do("POST", "/api/v1/predictions/bulk", predictions, bearer(writer)...); r.StatusCode != http.StatusOK {
		t.Fatalf("predictions: %d %s", r.StatusCode, r.Body)
	}
	return wards
}

// wardItem is the CSS selector of a ward's tree item.
func wardItem(id int64) string {
	return fmt.Sprintf(`[role=tree] li[role=treeitem][data-key="ward:%d"]`, id)
}

func TestBrowserHospital(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	wards := createHospital(t, ts)
	p := ts.openPage(t, ts.token(auth.ScopePatientsRead))
	p.visit("hospital")

	p.waitFor(`document.querySelectorAll('[role=tree] li[role=treeitem][data-kind=ward]').length === 8`, "the eight wards")
	p.wantTiming("departments")
	if got := join(p.texts(`.summary .stat`)); got != "9\nDepartments | 8\nWards | 122\nBeds | 85 (70%)\nOccupied" {
		t.Errorf("summary %q", got)
	}
	ccu := wardItem(wards["Coronary Care Unit"])
	if got := p.attr(ccu+` [role=meter]`, "aria-valuenow"); got != "7" {
		t.Errorf("CCU meter aria-valuenow %q, want 7 (the discharged patient does not count)", got)
	}
	if got := p.attr(ccu+` [role=meter]`, "aria-valuemax"); got != "8" {
		t.Errorf("CCU meter aria-valuemax %q", got)
	}
	if got := p.text(ccu + ` .beds`); got != "7 / 8" {
		t.Errorf("CCU shows %q", got)
	}
	if got := p.eval(fmt.Sprintf(`document.querySelector(%s).className`, jsString(wardItem(wards["ED Observation"])+` .occupancy`))); got != "occupancy full" {
		t.Errorf("a full ward's bar is %q", got)
	}
	if got := p.eval(fmt.Sprintf(`document.querySelector(%s).style.width`, jsString(ccu+` .fill`))); got != "87.5%" {
		t.Errorf("CCU bar width %v", got)
	}
	if got := p.text(`[role=tree] li[data-kind=department] > .row .dept-total`); got != "34 / 54 beds" {
		t.Errorf("Internal Medicine's total %q", got)
	}

	p.click(ccu + ` > .row .name`)
	p.waitFor(`document.querySelectorAll('table.patients tbody tr').length === 7`, "the CCU's seven inpatients")
	p.wantTiming("patients")
	if got := p.attr(`table.patients tbody tr`, "data-uid"); got != "CCU-001" {
		t.Errorf("first row %q, want CCU-001, the highest risk", got)
	}
	if n := p.count(`table.patients tbody tr[data-uid="CCU-008"]`); n != 0 {
		t.Error("the discharged patient is listed")
	}
	row := `table.patients tbody tr[data-uid="CCU-001"]`
	if got := join(p.texts(row + ` .risk-target`)); got != "deterioration | sepsis" {
		t.Errorf("CCU-001's predictions %q", got)
	}
	if got := join(p.texts(row + ` .risk-pct`)); got != "93% | 35%" {
		t.Errorf("CCU-001's risks %q, want the latest ones", got)
	}
	if got := p.attr(`tr[data-uid="CCU-001"] .badge.risk`, "data-band"); got != "high" {
		t.Errorf("93%% is %q risk", got)
	}
	if got := p.attr(`tr[data-uid="CCU-001"] .badge.risk:nth-child(2)`, "data-band"); got != "medium" {
		t.Errorf("35%% is %q risk", got)
	}
	for _, band := range []string{"low", "medium", "high"} {
		if p.count(`table.patients .badge.risk-`+band) == 0 {
			t.Errorf("no %s risk badge among the CCU's patients", band)
		}
	}
	if got := p.text(`.ward-meta`); !strings.HasPrefix(got, "7 inpatients") {
		t.Errorf("ward summary %q", got)
	}
	p.screenshot("hospital", "")
	p.checkA11y("hospital")
	p.checkNarrow("hospital")

	t.Run("a token without patients:read gets the server's reason", func(t *testing.T) {
		other := ts.openPage(t, ts.token(auth.ScopeTreesWrite))
		other.visit("hospital")
		other.waitFor(`document.querySelector('[role=tree] li[data-kind=ward]')`, "the wards")
		other.click(wardItem(wards["Ward 5A"]) + ` > .row .name`)
		other.waitFor(`document.querySelector('.ward-details [role=alert]')`, "the refusal")
		if got := other.text(`.ward-details .error-title`); got != "Forbidden (403)" {
			t.Errorf("error title %q", got)
		}
		if got := other.text(`.ward-details .error-detail`); got != "the token lacks the patients:read scope" {
			t.Errorf("error detail %q", got)
		}
	})
}

// wardPrefix makes a ward's patient uids: "Coronary Care Unit" → CCU, "Ward 3A" → W3A.
func wardPrefix(name string) string {
	var b strings.Builder
	for _, w := range strings.Fields(name) {
		if w[0] >= '0' && w[0] <= '9' {
			b.WriteString(w)
		} else {
			b.WriteByte(w[0])
		}
	}
	return strings.ToUpper(b.String())
}

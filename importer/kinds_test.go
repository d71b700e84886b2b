package importer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"canopy/internal/testdb"
)

// setup is what the kinds below refer to.
var setup = []struct{ kind, csv string }{
	{"departments", "legacy_id,name,code\nd1,Medicine,MED\nd2,Surgery,SURG\n"},
	{"wards", "department_code,name,beds\nMED,Ward A,10\nSURG,Ward B,5\n"},
	{"patients", "uid,name\nP1,Ann Lee\nP2,Bo Kim\n"},
	{"teachers", "id,name,commission_rate\n1,Kim Minji,0.15\n2,Lee Jun,0.2\n"},
	{"courses", "id,teacher_id,title,price\n10,1,Go basics,50000\n11,2,SQL,70000\n"},
	{"packages", "id,title,price,course_ids\n100,Bundle,100000,10;11\n"},
	{"kits", "id,course_id,title,price\n200,10,Go book,15000\n"},
}

const user = "0b5f2b7e-51b4-4a4e-9f0e-8d6f3c2a1b00"

// Each kind: a file with good rows and rows rejected for each reason, in
// CSV and as NDJSON; then the same file again, which must change nothing.
var kindCases = []struct {
	kind    string
	table   string // counted after each import
	input   string
	want    string // counts of the first import; the second finds the imported rows unchanged
	rejects map[int]string
	check   func(t *testing.T, db *testdb.DB)
}{
	{
		kind: "wards", table: "wards",
		input: `department_code,name,beds
MED,Ward 1,20
MED,Ward 2,10
SURG,Ward 1,8
NOPE,Ward 3,5
MED,Ward 1,30
MED,Ward 4,-1
MED,,4
MED,Ward 5,100001
`,
		want: "read 8 inserted 3 updated 0 unchanged 0 rejected 5",
		rejects: map[int]string{
			5: `unknown reference: department_code "NOPE"`,
			6: "duplicate in file: the same (department_code, name) (MED, Ward 1) as line 2",
			7: `bad value: beds: must be an integer from 0 to 100000, not "-1"`,
			8: "bad value: name: is required",
			9: `bad value: beds: must be an integer from 0 to 100000, not "100001"`,
		},
		check: func(t *testing.T, db *testdb.DB) {
			if beds := scalar[int](t, db, `SELECT beds FROM wards WHERE name = 'Ward 1' AND department_id = (SELECT id FROM departments WHERE code = 'MED')`); beds != 20 {
				t.Errorf("Ward 1 has %d beds: the first row should win", beds)
			}
		},
	},
	{
		kind: "patients", table: "patients",
		input: `uid,name,sex,birth_date,ward_name,department_code,admitted_at,discharged_at,died_at
P3,Cy Park,F,1980-02-03,Ward A,MED,2024-11-03T08:15:00Z,,
P4,Di Cho,M,,,,,,
P5,,X,,,,,,
P6,,,1800-01-01,,,,,
P7,,,,Ward Z,MED,,,
P8,,,,Ward A,,,,
P3,Dup,,,,,,,
P9,,,,,,2024-11-03T08:15:00Z,2024-11-02T08:15:00Z,
P10,,,,,,yesterday,,
,Nobody,,,,,,,
P1,Ann Lee-Park,,,,,,,
P11,,FFFFFFFFFFFFFFFFF,,,,,,
`,
		want: "read 12 inserted 2 updated 1 unchanged 0 rejected 9",
		rejects: map[int]string{
			4:  "bad value: sex: must be one of F, M, O, U",
			5:  "bad value: birth_date: must be between 1900-01-01 and today",
			6:  `unknown reference: no ward "Ward Z" in department "MED"`,
			7:  "bad value: ward_name: ward_name and department_code go together",
			8:  `duplicate in file: the same uid "P3" as line 2`,
			9:  "bad value: discharged_at: must not be before admitted_at",
			10: "bad value: admitted_at: must be an RFC 3339 timestamp",
			11: "bad value: uid: is required",
			13: "bad value: sex: must be one of F, M, O, U",
		},
		check: func(t *testing.T, db *testdb.DB) {
			if ward := scalar[string](t, db, `SELECT w.name FROM patients p JOIN wards w ON w.id = p.ward_id WHERE uid = 'P3'`); ward != "Ward A" {
				t.Errorf("P3's ward %q", ward)
			}
		},
	},
	{
		kind: "observations", table: "observations",
		input: `patient_uid,code,observed_at,value
P1,heart_rate,2024-11-03T08:00:00Z,81
P1,heart_rate,2024-11-03T09:00:00+01:00,82
P1,spo2,2024-11-03T08:00:00Z,97.5
NOPE,heart_rate,2024-11-03T08:00:00Z,80
P1,temp,2024-11-03T08:00:00Z,warm
P1,temp,2024-11-03 08:00:00+00,36.6
`,
		want: "read 6 inserted 3 updated 0 unchanged 0 rejected 3",
		rejects: map[int]string{
			3: "duplicate in file: the same (patient_uid, code, observed_at) (P1, heart_rate, 2024-11-03T08:00:00Z) as line 2",
			5: `unknown reference: patient_uid: no patient has uid "NOPE"`,
			6: "bad value: value: must be a number",
		},
	},
	{
		kind: "predictions", table: "predictions",
		input: `patient_uid,model,target,predicted_at,horizon_hours,probability
P1,sepsis-v1,sepsis,2024-11-03T08:00:00Z,6,0.12
P1,sepsis-v1,sepsis,2024-11-03T09:00:00Z,6,1.2
P2,sepsis-v1,sepsis,2024-11-03T08:00:00Z,9000,0.1
P9,sepsis-v1,sepsis,2024-11-03T08:00:00Z,6,0.1
P2,deterioration,icu,2024-11-03T08:00:00Z,24,0.3
`,
		want: "read 5 inserted 2 updated 0 unchanged 0 rejected 3",
		rejects: map[int]string{
			3: "bad value: probability: must be a number from 0 to 1",
			4: "bad value: horizon_hours: must be an integer from 0 to 8760",
			5: `unknown reference: patient_uid: no patient has uid "P9"`,
		},
	},
	{
		kind: "newsletters", table: "newsletters",
		input: `name,domain,mailing_list,image_url
Daily Brief,brief.example,,https://img.example/brief.png
Weekly,,weekly@lists.example,https://img.example/weekly.png
No target,,,https://img.example/x.png
No image,x.example,,
Daily Brief,other.example,,https://img.example/other.png
By FTP,ftp.example,,ftp://img.example/x.png
`,
		want: "read 6 inserted 2 updated 0 unchanged 0 rejected 4",
		rejects: map[int]string{
			4: "bad value: domain: a newsletter needs a domain or a mailing_list",
			5: "bad value: image_url: is required",
			6: `duplicate in file: the same name "Daily Brief" as line 2`,
			7: "bad value: image_url: must be an absolute http(s) URL of at most 2048 bytes",
		},
	},
	{
		kind: "articles", table: "articles",
		input: `id,to_user_id,from_name,from_domain,mailing_list,title,created_at,is_read
,` + user + `,Brief,brief.example,,Hello,2024-11-03T08:15:00Z,
1d9c4f7e-2a3b-4c5d-8e9f-0a1b2c3d4e5f,` + user + `,Weekly,weekly.example,weekly@lists.example,Issue 1,2024-11-04T08:00:00Z,true
,not-a-uuid,Brief,brief.example,,Hello,2024-11-03T08:15:00Z,
,` + user + `,Brief,brief.example,,Hello,2024-11-03T08:15:00Z,
12345,` + user + `,Brief,brief.example,,Hello,2024-11-03T08:15:00Z,
,` + user + `,Brief,brief.example,,Other,2024-11-03T08:15:00Z,maybe
,` + user + `,Brief,brief.example,,Later,2024-11-05T08:15:00Z,false
`,
		want: "read 7 inserted 3 updated 0 unchanged 0 rejected 4",
		rejects: map[int]string{
			4: "bad value: to_user_id: must be a UUID",
			5: "duplicate in file: the same id",
			6: "bad value: id: must be a UUID",
			7: "bad value: is_read: must be true or false",
		},
		check: func(t *testing.T, db *testdb.DB) {
			if n := scalar[int](t, db, `SELECT count(*) FROM articles WHERE is_read`); n != 1 {
				t.Errorf("%d articles read, want 1", n)
			}
		},
	},
	{
		kind: "teachers", table: "teachers",
		input: `id,name,commission_rate
3,Park Sora,0.1
4,Choi Min,1.5
5,Jung Ho,0.12345
3,Park again,0.1
2,Lee Jun,0.25
`,
		want: "read 5 inserted 1 updated 1 unchanged 0 rejected 3",
		rejects: map[int]string{
			3: "bad value: commission_rate: must be a decimal from 0 to 1",
			4: "bad value: commission_rate: must be a decimal from 0 to 1",
			5: `duplicate in file: the same id "3" as line 2`,
		},
		check: func(t *testing.T, db *testdb.DB) {
			// The identity continues after the imported ids.
			if id := scalar[int64](t, db, `INSERT INTO teachers (name, commission_rate) VALUES ('New', 0) RETURNING id`); id != 4 {
				t.Errorf("a teacher added after the import got id %d, want 4", id)
			}
		},
	},
	{
		kind: "courses", table: "courses",
		input: `id,teacher_id,title,price
12,1,Rust,60000
13,9,Orphan,100
14,1,Negative,-5
`,
		want: "read 3 inserted 1 updated 0 unchanged 0 rejected 2",
		rejects: map[int]string{
			3: "unknown reference: teacher_id 9 names no teacher",
			4: "bad value: price: must be an integer from 0",
		},
	},
	{
		kind: "packages", table: "package_courses",
		input: `id,title,price,course_ids
100,Bundle,100000,10
101,Empty,0,
102,Bad,5000,10;99
103,Twice,5000,10;10
104,Pair,90000,10;11
`,
		want: "read 5 inserted 2 updated 1 unchanged 0 rejected 2",
		rejects: map[int]string{
			4: "unknown reference: course_ids: 99 names no course",
			5: "bad value: course_ids: lists 10 twice",
		},
		check: func(t *testing.T, db *testdb.DB) {
			// Bundle lost course 11: it has exactly the courses listed.
			if n := scalar[int](t, db, `SELECT count(*) FROM package_courses WHERE package_id = 100`); n != 1 {
				t.Errorf("package 100 has %d courses, want 1", n)
			}
		},
	},
	{
		kind: "kits", table: "kits",
		input: `id,course_id,title,price
201,11,SQL cards,9000
202,99,Nope,100
`,
		want: "read 2 inserted 1 updated 0 unchanged 0 rejected 1",
		rejects: map[int]string{
			3: "unknown reference: course_id 99 names no course",
		},
	},
	{
		kind: "purchases", table: "purchases",
		input: `id,product_type,product_id,buyer,price,refund,status,purchased_at
1000,course,10,buyer1,50000,,,2024-11-03T08:15:00Z
1001,package,100,buyer2,100000,100000,,2024-11-04T08:00:00Z
1002,kit,200,buyer3,15000,5000,partially_refunded,2024-11-05T08:00:00Z
1003,kit,200,buyer3,15000,5000,paid,2024-11-05T08:00:00Z
1004,course,99,buyer4,100,,,2024-11-05T08:00:00Z
1005,book,1,buyer5,100,,,2024-11-05T08:00:00Z
1006,course,10,buyer6,100,200,,2024-11-05T08:00:00Z
`,
		want: "read 7 inserted 3 updated 0 unchanged 0 rejected 4",
		rejects: map[int]string{
			5: `bad value: status: "paid" disagrees with the refund of 5000`,
			6: "unknown reference: product_id 99 names no course",
			7: `bad value: product_type: must be course, package or kit, not "book"`,
			8: "bad value: refund: must not exceed the price (100)",
		},
		check: func(t *testing.T, db *testdb.DB) {
			if s := scalar[string](t, db, `SELECT status FROM purchases WHERE id = 1001`); s != "refunded" {
				t.Errorf("purchase 1001 is %q, want refunded", s)
			}
		},
	},
}

func TestImportKinds(t *testing.T) {
	for _, tc := range kindCases {
		for _, format := range []string{"csv", "ndjson"} {
			t.Run(tc.kind+"/"+format, func(t *testing.T) {
				t.Parallel()
				db := testdb.New(t)
				for _, s := range setup {
					mustLoad(t, db, s.kind, s.csv)
				}
				input, wantRejects := tc.input, tc.rejects
				if format == "ndjson" {
					input, wantRejects = csvToNDJSON(t, input), ndjsonLines(wantRejects)
				}
				sum, rej := load(t, db, tc.kind, format, input, 0)
				if got := counts(sum); got != tc.want {
					t.Errorf("first import: %s, want %s", got, tc.want)
				}
				checkRejects(t, rej, wantRejects)
				rows := scalar[int](t, db, `SELECT count(*) FROM `+tc.table)
				if tc.check != nil {
					tc.check(t, db)
					rows = scalar[int](t, db, `SELECT count(*) FROM `+tc.table)
				}

				again, rej := load(t, db, tc.kind, format, input, 0)
				want := sum
				want.Inserted, want.Updated, want.Unchanged = 0, 0, sum.Imported()
				if counts(again) != counts(want) {
					t.Errorf("the same file again: %s, want %s", counts(again), counts(want))
				}
				checkRejects(t, rej, wantRejects)
				if n := scalar[int](t, db, `SELECT count(*) FROM `+tc.table); n != rows {
					t.Errorf("%s has %d rows after the second import, %d before", tc.table, n, rows)
				}
			})
		}
	}
}

// Ten rows in batches of three: a duplicate within a batch is caught
// before the database, one across batches by the batch statement.
func TestImportInBatches(t *testing.T) {
	db := testdb.New(t)
	for _, s := range setup[:1] {
		mustLoad(t, db, s.kind, s.csv)
	}
	input := `department_code,name,beds
MED,W1,1
MED,W2,1
MED,W2,2
MED,W3,1
MED,W4,1
MED,W1,9
MED,W5,1
MED,W6,1
NOPE,W7,1
MED,W8,1
`
	sum, rej := load(t, db, "wards", "csv", input, 3)
	if got, want := counts(sum), "read 10 inserted 7 updated 0 unchanged 0 rejected 3"; got != want {
		t.Errorf("%s, want %s", got, want)
	}
	checkRejects(t, rej, map[int]string{
		4:  "duplicate in file: the same (department_code, name) (MED, W2) as line 3",
		7:  "duplicate in file: the same (department_code, name) (MED, W1) as an earlier line",
		10: "unknown reference",
	})
	if beds := scalar[int](t, db, `SELECT beds FROM wards WHERE name = 'W1'`); beds != 1 {
		t.Errorf("W1 has %d beds: the first row should win", beds)
	}
	if len(rej) == 3 && strings.Join(rej[2].record, ",") != "MED,W1,9" && strings.Join(rej[1].record, ",") != "MED,W1,9" {
		t.Errorf("the duplicate's record is not in the rejects file: %v", rej)
	}
	sum, _ = load(t, db, "wards", "csv", input, 3)
	if got, want := counts(sum), "read 10 inserted 0 updated 0 unchanged 7 rejected 3"; got != want {
		t.Errorf("again: %s, want %s", got, want)
	}
}

// Patients keep what a record does not carry and clear what it carries as
// null, as the API does.
func TestImportPatientsPartial(t *testing.T) {
	db := testdb.New(t)
	for _, s := range setup[:2] {
		mustLoad(t, db, s.kind, s.csv)
	}
	type patient struct {
		Name, Sex, Ward *string
		Admitted        *time.Time
	}
	read := func() patient {
		var p patient
		err := db.Pool.QueryRow(context.Background(), `SELECT p.name, p.sex, w.name, p.admitted_at
            FROM patients p LEFT JOIN wards w ON w.id = p.ward_id WHERE uid = 'P1'`).Scan(&p.Name, &p.Sex, &p.Ward, &p.Admitted)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	show := func(s *string) string {
		if s == nil {
			return "null"
		}
		return *s
	}
	steps := []struct {
		name, format, input, want string
		name_, sex, ward          string
		admitted                  bool
	}{
		{"insert", "csv", "uid,name,sex,ward_name,department_code,admitted_at\nP1,Ann,F,Ward A,MED,2024-11-03T08:15:00Z\n",
			"read 1 inserted 1 updated 0 unchanged 0 rejected 0", "Ann", "F", "Ward A", true},
		{"empty keeps", "csv", "uid,name,sex,ward_name,department_code,admitted_at\nP1,,,,,\n",
			"read 1 inserted 0 updated 0 unchanged 1 rejected 0", "Ann", "F", "Ward A", true},
		{`\N clears`, "csv", "uid,name,sex,ward_name,department_code,admitted_at\nP1,,\\N,\\N,\\N,\n",
			"read 1 inserted 0 updated 1 unchanged 0 rejected 0", "Ann", "null", "null", true},
		{"JSON null clears, absent keeps", "ndjson", `{"uid": "P1", "admitted_at": null}` + "\n",
			"read 1 inserted 0 updated 1 unchanged 0 rejected 0", "Ann", "null", "null", false},
		{"a value sets", "ndjson", `{"uid": "P1", "name": "Ann Lee", "ward_name": "Ward B", "department_code": "SURG"}` + "\n",
			"read 1 inserted 0 updated 1 unchanged 0 rejected 0", "Ann Lee", "null", "Ward B", false},
	}
	for _, s := range steps {
		sum, rej := load(t, db, "patients", s.format, s.input, 0)
		if got := counts(sum); got != s.want {
			t.Errorf("%s: %s, want %s (%v)", s.name, got, s.want, rej)
		}
		p := read()
		if show(p.Name) != s.name_ || show(p.Sex) != s.sex || show(p.Ward) != s.ward || (p.Admitted != nil) != s.admitted {
			t.Errorf("%s: name %s, sex %s, ward %s, admitted %v", s.name, show(p.Name), show(p.Sex), show(p.Ward), p.Admitted)
		}
	}
}

// NDJSON with native JSON values: numbers, arrays, booleans; and records
// that are not objects, or carry unknown members.
func TestImportNDJSON(t *testing.T) {
	db := testdb.New(t)
	for _, s := range setup[:5] {
		mustLoad(t, db, s.kind, s.csv)
	}
	input := `{"id": 100, "title": "Bundle", "price": 100000, "course_ids": [10, 11]}

{"id": 101, "title": "Solo", "price": 5000, "course_ids": []}
{"id": 102, "title": "Broken", "price": 5000
{"id": 103, "title": "Extra", "price": 5000, "colour": "red"}
[1, 2, 3]
{"id": 104, "title": "Nested", "price": 5000, "course_ids": [[10]]}
{"id": 105, "title": 7, "price": "5000"}
`
	sum, rej := load(t, db, "packages", "ndjson", input, 0)
	if got, want := counts(sum), "read 7 inserted 3 updated 0 unchanged 0 rejected 4"; got != want {
		t.Errorf("%s, want %s", got, want)
	}
	checkRejects(t, rej, map[int]string{
		4: "malformed record: not a JSON object",
		5: `bad value: unknown field "colour"`,
		6: "malformed record: not a JSON object",
		7: "bad value: course_ids: an array holds only numbers or strings",
	})
	if n := scalar[int](t, db, `SELECT count(*) FROM package_courses WHERE package_id = 100`); n != 2 {
		t.Errorf("package 100 has %d courses", n)
	}
	if len(rej) > 0 && rej[0].record[0] != `{"id": 102, "title": "Broken", "price": 5000` {
		t.Errorf("the rejects file holds %q, not the line as read", rej[0].record)
	}
}

// A header that names an unknown column, or lacks a required one, ends the
// import before any row: every row would be rejected for it.
func TestImportBadHeader(t *testing.T) {
	db := testdb.New(t)
	for _, tc := range []struct{ name, input, want string }{
		{"unknown column", "uid,nickname\nP1,x\n", `unknown column "nickname"`},
		{"missing required", "name\nAnn\n", "missing required column(s) uid"},
		{"empty file", "", "the file is empty"},
		{"twice", "uid,UID\nP1,P1\n", `column "uid" appears twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := importString(db, "patients", tc.input)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := importString(db, "bananas", "x\n"); err == nil || !strings.Contains(err.Error(), `unknown kind "bananas"`) {
		t.Errorf("unknown kind: %v", err)
	}
}

// A quote that never closes takes the rest of the file into one record,
// which is rejected as malformed; the rows before it go in.
func TestImportUnclosedQuote(t *testing.T) {
	for _, tc := range []struct{ name, kind, input, want string }{
		{"after a good row", "patients", "uid,name\nZH12,ok\n\"ZH13,x\n", "read 2 inserted 1 updated 0 unchanged 0 rejected 1"},
		{"a bare quote", "patients", "uid,name\n\"\n", "read 1 inserted 0 updated 0 unchanged 0 rejected 1"},
		{"rows swallowed", "patients", "uid,name\nZH12,ok\n\"ZH13,x\nZH14,y\n", "read 2 inserted 1 updated 0 unchanged 0 rejected 1"},
		{"a tree", "categories", "legacy_id,name\nc1,ok\n\"c2,x\n", "read 2 inserted 1 updated 0 unchanged 0 rejected 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := testdb.New(t)
			sum, rej := load(t, db, tc.kind, "csv", tc.input, 0)
			if got := counts(sum); got != tc.want {
				t.Errorf("%s, want %s", got, tc.want)
			}
			for _, r := range rej {
				if !strings.HasPrefix(r.reason, "malformed record: ") {
					t.Errorf("line %d: reason %q, want a malformed record", r.line, r.reason)
				}
			}
		})
	}
}

// An id may be the largest bigint: the identity moved past the largest id
// after the import must not overflow, in this import or the next.
func TestImportMaxID(t *testing.T) {
	const max = "9223372036854775807"
	for _, tc := range []struct{ kind, input string }{
		{"teachers", "id,name,commission_rate\n" + max + ",Max,0.1\n"},
		{"courses", "id,teacher_id,title,price\n" + max + ",1,Max,1\n"},
		{"packages", "id,title,price,course_ids\n" + max + ",Max,1,10\n"},
		{"kits", "id,course_id,title,price\n" + max + ",10,Max,1\n"},
		{"purchases", "id,product_type,product_id,buyer,price,refund,status,purchased_at\n" + max + ",course,10,b,1,,,2024-11-03T08:15:00Z\n"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			db := testdb.New(t)
			for _, s := range setup {
				mustLoad(t, db, s.kind, s.csv)
			}
			mustLoad(t, db, tc.kind, tc.input)
			mustLoad(t, db, tc.kind, tc.input)
		})
	}
}

// NDJSON strings are refused where they are not UTF-8 text, as CSV cells
// and the API refuse them, rather than read with U+FFFD in their place. Only
// a list column (a package's course ids) takes an array: elsewhere it is
// refused, never joined into text or read as a blank.
func TestImportNDJSONRefused(t *testing.T) {
	db := testdb.New(t)
	input := `{"uid": "U1", "name": "a` + "\xff" + `b"}
{"uid": "U2", "name": "a\ud800"}
{"uid": "U3", "name": "\udfff"}
{"uid": "U4", "name": "\ud83d\ude00"}
{"uid": "U5", "name": "\\ud800"}
{"uid": "A1", "name": ["a", "b"]}
{"uid": "A2", "name": []}
{"uid": ["A3"]}
`
	sum, rej := load(t, db, "patients", "ndjson", input, 0)
	if got, want := counts(sum), "read 8 inserted 2 updated 0 unchanged 0 rejected 6"; got != want {
		t.Errorf("%s, want %s", got, want)
	}
	checkRejects(t, rej, map[int]string{
		1: "bad value: name: must be UTF-8 text",
		2: "bad value: name: must be UTF-8 text: it escapes half of a UTF-16 surrogate pair",
		3: "bad value: name: must be UTF-8 text: it escapes half of a UTF-16 surrogate pair",
		6: "bad value: name: must be a string or a number, not JSON array",
		7: "bad value: name: must be a string or a number, not JSON array",
		8: "bad value: uid: must be a string or a number, not JSON array",
	})
	if name := scalar[string](t, db, `SELECT name FROM patients WHERE uid = 'U4'`); name != "😀" {
		t.Errorf("U4's name %q", name)
	}
}

// Numbers are read as JSON writes them and integers as plain decimals, as
// an API client sends them; Go's other spellings are refused.
func TestImportNumberSpellings(t *testing.T) {
	db := testdb.New(t)
	mustLoad(t, db, "patients", setup[2].csv)
	input := `patient_uid,model,target,predicted_at,horizon_hours,probability
P1,m,t,2024-11-03T08:00:00Z,6,0.5
P1,m,t,2024-11-03T09:00:00Z,6,5e-1
P1,m,t,2024-11-03T10:00:00Z,6,0x1p-1
P1,m,t,2024-11-03T11:00:00Z,6,0_0.5
P1,m,t,2024-11-03T12:00:00Z,+6,0.5
P1,m,t,2024-11-03T13:00:00Z, 6,0.5
P1,m,t,2024-11-03T14:00:00Z,1_0,0.5
`
	sum, rej := load(t, db, "predictions", "csv", input, 0)
	if got, want := counts(sum), "read 7 inserted 2 updated 0 unchanged 0 rejected 5"; got != want {
		t.Errorf("%s, want %s", got, want)
	}
	checkRejects(t, rej, map[int]string{
		4: `bad value: probability: must be a number from 0 to 1, not "0x1p-1"`,
		5: `bad value: probability: must be a number from 0 to 1, not "0_0.5"`,
		6: `bad value: horizon_hours: must be an integer from 0 to 8760, not "+6"`,
		7: `bad value: horizon_hours: must be an integer from 0 to 8760, not " 6"`,
		8: `bad value: horizon_hours: must be an integer from 0 to 8760, not "1_0"`,
	})
	mustLoad(t, db, "observations", "patient_uid,code,observed_at,value\nP1,hr,2024-11-03T08:00:00Z,-1.5E2\n")
	sum, rej = load(t, db, "observations", "csv", `patient_uid,code,observed_at,value
P1,hr,2024-11-03T09:00:00Z,0x1p4
P1,hr,2024-11-03T10:00:00Z,1_000
P1,hr,2024-11-03T11:00:00Z,1_0.5
`, 0)
	if sum.Rejected != 3 {
		t.Errorf("observations: %s, want all 3 rejected", counts(sum))
	}
	for _, r := range rej {
		if !strings.HasPrefix(r.reason, "bad value: value: must be a number from -1e15 to 1e15") {
			t.Errorf("line %d: %s", r.line, r.reason)
		}
	}
}

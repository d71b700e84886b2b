package seed

import (
	"fmt"
	"iter"
	"math"
	"strconv"
	"strings"
	"time"
)

// plan is what a run generates: the sizes, the time ranges, and the few
// lists that several tables refer to.
type plan struct {
	seed  uint64
	size  sizes
	now   time.Time
	wards []ward
	users []string // heaviest first
	// perMonth[u] is the number of articles user u receives in a whole month.
	perMonth []int
}

type ward struct {
	department string // code
	name       string
}

func newPlan(opts Options) (*plan, error) {
	scale := opts.Scale
	if scale == 0 {
		scale = 1
	}
	if scale < 0 || math.IsNaN(scale) || math.IsInf(scale, 0) {
		return nil, fmt.Errorf("seed: scale %v: a positive number", opts.Scale)
	}
	size, err := profileSizes(opts.Profile, scale)
	if err != nil {
		return nil, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	p := &plan{seed: opts.Seed, size: size, now: now.UTC().Truncate(time.Hour)}
	for i, d := range p.departments() {
		if d.parent < 0 {
			continue
		}
		for w := range 1 + p.intn(streamWards, i, size.wardsPerDepartment) {
			p.wards = append(p.wards, ward{department: d.code, name: fmt.Sprintf("%s Ward %c", d.name, 'A'+w)})
		}
	}
	for u := range size.users {
		p.users = append(p.users, p.uuid(streamUsers, u))
	}
	p.perMonth = monthlyCounts(size.users, size.articles/12, size.heaviest)
	return p, nil
}

// monthlyCounts shares perMonth articles among users so that the first gets
// heaviest and the others fewer, by a power law: user u gets
// heaviest·(u+1)^-a, with a found by bisection so that they add up.
func monthlyCounts(users, perMonth, heaviest int) []int {
	counts := func(a float64) ([]int, int) {
		out := make([]int, users)
		sum := 0
		for u := range out {
			out[u] = max(1, int(math.Round(float64(heaviest)*math.Pow(float64(u+1), -a))))
			sum += out[u]
		}
		return out, sum
	}
	lo, hi := 0.0, 10.0
	for range 60 {
		mid := (lo + hi) / 2
		if _, sum := counts(mid); sum > perMonth {
			lo = mid
		} else {
			hi = mid
		}
	}
	out, _ := counts(hi)
	return out
}

// The streams of the hash: one per attribute, so that changing how one is
// drawn changes nothing else.
const (
	streamCategories = iota + 1
	streamWards
	streamPatients
	streamVitals
	streamPredictions
	streamNewsletters
	streamUsers
	streamArticles
	streamTeachers
	streamCourses
	streamPackages
	streamKits
	streamPurchases
)

// hash is the random number for attribute salt of row i in stream: a
// SplitMix64 finaliser over the seed and the three.
func (p *plan) hash(stream, i, salt int) uint64 {
	x := p.seed ^ uint64(stream)*0x9e3779b97f4a7c15 ^ uint64(i)*0xbf58476d1ce4e5b9 ^ uint64(salt)*0x94d049bb133111eb
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// intn is a number in [0, n) for row i of stream.
func (p *plan) intn(stream, i, n int, salt ...int) int {
	s := 0
	if len(salt) > 0 {
		s = salt[0]
	}
	return int(p.hash(stream, i, s) % uint64(n))
}

// unit is a number in [0, 1).
func (p *plan) unit(stream, i, salt int) float64 {
	return float64(p.hash(stream, i, salt)>>11) / (1 << 53)
}

// uuid is a version 4 UUID drawn for row i of stream.
func (p *plan) uuid(stream, i int) string {
	a, b := p.hash(stream, i, 101), p.hash(stream, i, 102)
	a = a&^(0xf<<12) | 0x4<<12 // version 4
	b = b&^(0x3<<62) | 0x2<<62 // RFC 4122 variant
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

func pick[T any](p *plan, list []T, stream, i, salt int) T {
	return list[p.intn(stream, i, len(list), salt)]
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func itoa(n int) string { return strconv.Itoa(n) }

func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// tables lists every table's rows, in import order.
func (p *plan) tables() []table {
	return []table{
		p.categoryRows(),
		p.departmentRows(),
		p.wardRows(),
		p.patientRows(),
		p.observationRows(),
		p.predictionRows(),
		p.newsletterRows(),
		p.articleRows(),
		p.teacherRows(),
		p.courseRows(),
		p.packageRows(),
		p.kitRows(),
		p.purchaseRows(),
	}
}

// copies repeats a preorder list of nodes until it has n, renaming the
// roots of each further copy ("Electronics (2)"): a list cut short keeps
// every parent before its children.
func copies[T any](list []T, n int) iter.Seq2[int, T] {
	return func(yield func(int, T) bool) {
		for i := range n {
			if !yield(i/len(list), list[i%len(list)]) {
				return
			}
		}
	}
}

func (p *plan) categoryRows() table {
	taxonomy := parseTaxonomy()
	return table{kind: "categories", columns: []string{"legacy_id", "parent_legacy_id", "name", "position"},
		total: int64(p.size.categories),
		rows: func(yield func([]string) bool) {
			position := map[int]int{} // next position under each parent, by index
			i := 0
			for round, c := range copies(taxonomy, p.size.categories) {
				at := i % len(taxonomy)
				id := func(j int) string { return fmt.Sprintf("cat-%d-%03d", round+1, j+1) }
				parent, name := "", c.name
				if c.parent >= 0 {
					parent = id(c.parent)
				} else if round > 0 {
					name = fmt.Sprintf("%s (%d)", c.name, round+1)
				}
				key := c.parent + round*len(taxonomy)
				pos := position[key]
				position[key]++
				if !yield([]string{id(at), parent, name, itoa(pos)}) {
					return
				}
				i++
			}
		}}
}

// departments is the department tree, repeated to the profile's size.
func (p *plan) departments() []department {
	tree := parseDepartments()
	out := make([]department, 0, p.size.departments)
	for round, d := range copies(tree, p.size.departments) {
		if round > 0 {
			d.code = fmt.Sprintf("%s%d", d.code, round+1)
			if d.parent < 0 {
				d.name = fmt.Sprintf("%s (site %d)", d.name, round+1)
			}
		}
		if d.parent >= 0 {
			d.parent += round * len(tree)
		}
		out = append(out, d)
	}
	return out
}

func (p *plan) departmentRows() table {
	deps := p.departments()
	return table{kind: "departments", columns: []string{"legacy_id", "parent_legacy_id", "name", "position", "code"},
		total: int64(len(deps)),
		rows: func(yield func([]string) bool) {
			for i, d := range deps {
				parent := ""
				if d.parent >= 0 {
					parent = "dep-" + deps[d.parent].code
				}
				if !yield([]string{"dep-" + d.code, parent, d.name, itoa(i), d.code}) {
					return
				}
			}
		}}
}

func (p *plan) wardRows() table {
	return table{kind: "wards", columns: []string{"department_code", "name", "beds"}, total: int64(len(p.wards)),
		rows: func(yield func([]string) bool) {
			for i, w := range p.wards {
				if !yield([]string{w.department, w.name, itoa(12 + p.intn(streamWards, i, 21, 1))}) {
					return
				}
			}
		}}
}

// stay is patient i's admission: when, where, and how it ended; a zero
// discharged and died means still in the ward.
type stay struct {
	ward                       ward
	admitted, discharged, died time.Time
}

func (p *plan) stay(i int) stay {
	s := stay{ward: p.wards[p.intn(streamPatients, i, len(p.wards), 1)]}
	if p.intn(streamPatients, i, 100, 2) < p.size.inpatientPercent {
		// An inpatient: admitted in the last ten days, to the minute.
		s.admitted = p.now.Add(-time.Duration(60+p.intn(streamPatients, i, 10*24*60, 3)) * time.Minute)
		return s
	}
	s.admitted = p.now.Add(-time.Duration(11*24*60+p.intn(streamPatients, i, 50*24*60, 3)) * time.Minute)
	left := s.admitted.Add(time.Duration(6*60+p.intn(streamPatients, i, 9*24*60, 4)) * time.Minute)
	if p.intn(streamPatients, i, 100, 5) == 0 {
		s.died = left
	} else {
		s.discharged = left
	}
	return s
}

func (p *plan) inpatient(s stay) bool { return s.discharged.IsZero() && s.died.IsZero() }

func uid(i int) string { return fmt.Sprintf("P%07d", i+1) }

func (p *plan) patientRows() table {
	return table{kind: "patients",
		columns: []string{"uid", "name", "sex", "birth_date", "ward_name", "department_code", "admitted_at", "discharged_at", "died_at"},
		total:   int64(p.size.patients),
		rows: func(yield func([]string) bool) {
			earliest := time.Date(1930, 1, 1, 0, 0, 0, 0, time.UTC)
			days := int(p.now.Sub(earliest).Hours()/24) - 365
			for i := range p.size.patients {
				s := p.stay(i)
				sex := []string{"F", "M"}[p.intn(streamPatients, i, 2, 6)]
				if p.intn(streamPatients, i, 200, 7) == 0 {
					sex = "U"
				}
				row := []string{uid(i),
					pick(p, givenNames, streamPatients, i, 8) + " " + pick(p, familyNames, streamPatients, i, 9),
					sex, earliest.AddDate(0, 0, p.intn(streamPatients, i, days, 10)).Format(time.DateOnly),
					s.ward.name, s.ward.department, ts(s.admitted), "", ""}
				if !s.discharged.IsZero() {
					row[7] = ts(s.discharged)
				}
				if !s.died.IsZero() {
					row[8] = ts(s.died)
				}
				if !yield(row) {
					return
				}
			}
		}}
}

// vital is a vital sign: its code, its usual range, and its decimals.
type vital struct {
	code      string
	low, high float64
	decimals  int
}

var vitals = []vital{
	{"heart_rate", 55, 110, 0},
	{"resp_rate", 11, 24, 0},
	{"spo2", 91, 100, 0},
	{"temperature", 36.1, 38.6, 1},
	{"systolic_bp", 95, 160, 0},
}

// inpatientTimes yields, for each inpatient in order, the hours of the
// vitals window after its admission, newest first, every step.
func (p *plan) inpatientTimes(step time.Duration, yield func(i int, s stay, at time.Time) bool) {
	for i := range p.size.patients {
		s := p.stay(i)
		if !p.inpatient(s) {
			continue
		}
		for at := p.now; at.After(p.now.Add(-p.size.vitalsWindow)) && !at.Before(s.admitted); at = at.Add(-step) {
			if !yield(i, s, at) {
				return
			}
		}
	}
}

func (p *plan) observationRows() table {
	limit := p.size.observations
	perPatient := int(p.size.vitalsWindow/p.size.vitalsEvery) * len(vitals)
	total := p.size.patients * p.size.inpatientPercent / 100 * perPatient / 2
	if limit > 0 {
		total = limit
	}
	return table{kind: "observations", columns: []string{"patient_uid", "code", "observed_at", "value"}, total: int64(total),
		rows: func(yield func([]string) bool) {
			n := 0
			p.inpatientTimes(p.size.vitalsEvery, func(i int, _ stay, at time.Time) bool {
				hour := int(at.Unix() / 3600)
				for v, vt := range vitals {
					if limit > 0 && n == limit {
						return false
					}
					// A patient's own level, plus a little drift by the hour.
					level := vt.low + (vt.high-vt.low)*(0.25+0.5*p.unit(streamVitals, i, v))
					value := level + (vt.high-vt.low)*0.1*(p.unit(streamVitals, hour, i*len(vitals)+v)-0.5)
					if !yield([]string{uid(i), vt.code, ts(at), strconv.FormatFloat(value, 'f', vt.decimals, 64)}) {
						return false
					}
					n++
				}
				return true
			})
		}}
}

// models are the risk models whose predictions the seed writes.
var models = []struct {
	model, target string
	horizon       int
}{
	{"sepsis-v2", "sepsis", 6},
	{"deterioration-v1", "icu_transfer", 24},
}

func (p *plan) predictionRows() table {
	limit := p.size.predictions
	total := p.size.patients * p.size.inpatientPercent / 100 * int(p.size.vitalsWindow/(6*time.Hour)) * len(models) / 2
	if limit > 0 {
		total = limit
	}
	return table{kind: "predictions", columns: []string{"patient_uid", "model", "target", "predicted_at", "horizon_hours", "probability"},
		total: int64(total),
		rows: func(yield func([]string) bool) {
			n := 0
			p.inpatientTimes(6*time.Hour, func(i int, _ stay, at time.Time) bool {
				for m, model := range models {
					if limit > 0 && n == limit {
						return false
					}
					// Mostly low risks, a few high ones.
					prob := math.Pow(p.unit(streamPredictions, int(at.Unix()/3600), i*len(models)+m), 3)
					if !yield([]string{uid(i), model.model, model.target, ts(at), itoa(model.horizon), strconv.FormatFloat(prob, 'f', 4, 64)}) {
						return false
					}
					n++
				}
				return true
			})
		}}
}

// newsletter is newsletter i: every name differs; domains are shared by the
// newsletters of a topic; one in five has no mailing list.
func (p *plan) newsletter(i int) (name, domain, list string) {
	w, t := len(newsletterWords), len(newsletterTopics)
	topic := newsletterTopics[(i/w)%t]
	name = fmt.Sprintf("%s %s %s", newsletterWords[i%w], topic, newsletterNouns[(i/(w*t))%len(newsletterNouns)])
	if i >= w*t*len(newsletterNouns) {
		name += fmt.Sprintf(" %d", i/(w*t*len(newsletterNouns))+1)
	}
	domain = slug(topic) + "-news.example"
	if i%5 != 4 {
		list = slug(name) + "@lists." + domain
	}
	return name, domain, list
}

func (p *plan) newsletterRows() table {
	return table{kind: "newsletters", columns: []string{"name", "domain", "mailing_list", "image_url"}, total: int64(p.size.newsletters),
		rows: func(yield func([]string) bool) {
			for i := range p.size.newsletters {
				name, domain, list := p.newsletter(i)
				if !yield([]string{name, domain, list, "https://images.example/newsletters/" + slug(name) + ".png"}) {
					return
				}
			}
		}}
}

// months are the twelve months the articles fall in, oldest first, each with
// the part of it that has articles: whole months before Now's for bench,
// the last eleven and this month up to Now for demo.
func (p *plan) months() [][2]time.Time {
	first := time.Date(p.now.Year(), p.now.Month()-11, 1, 0, 0, 0, 0, time.UTC)
	if p.size.fullMonths {
		first = first.AddDate(0, -1, 0)
	}
	out := make([][2]time.Time, 12)
	for m := range out {
		start, end := first.AddDate(0, m, 0), first.AddDate(0, m+1, 0)
		if end.After(p.now) {
			end = p.now
		}
		out[m] = [2]time.Time{start, end}
	}
	return out
}

func (p *plan) articleRows() table {
	return table{kind: "articles",
		columns: []string{"id", "to_user_id", "from_name", "from_domain", "mailing_list", "title", "created_at", "is_read"},
		total:   int64(p.size.articles),
		rows: func(yield func([]string) bool) {
			n := 0
			months := p.months()
			for m, span := range months {
				whole := span[0].AddDate(0, 1, 0).Sub(span[0])
				part := span[1].Sub(span[0])
				if part <= 0 {
					continue
				}
				for u, user := range p.users {
					count := int(math.Round(float64(p.perMonth[u]) * float64(part) / float64(whole)))
					for range count {
						name, domain, list := p.newsletter(p.intn(streamArticles, n, p.size.newsletters, 1))
						if p.intn(streamArticles, n, 10, 2) == 0 {
							list = "" // sent from the domain, not through a list
						}
						at := span[0].Add(time.Duration(p.hash(streamArticles, n, 3) % uint64(part)))
						read := p.intn(streamArticles, n, 100, 4) < 85
						if m == len(months)-1 {
							read = p.intn(streamArticles, n, 100, 4) < 30
						}
						title := pick(p, titleOpeners, streamArticles, n, 5) + " " + pick(p, titleSubjects, streamArticles, n, 6)
						if !yield([]string{p.uuid(streamArticles, n), user, name, domain, list, title,
							at.Truncate(time.Second).Format(time.RFC3339), strconv.FormatBool(read)}) {
							return
						}
						n++
					}
				}
			}
		}}
}

func (p *plan) teacherRows() table {
	return table{kind: "teachers", columns: []string{"id", "name", "commission_rate"}, total: int64(p.size.teachers),
		rows: func(yield func([]string) bool) {
			for i := range p.size.teachers {
				name := pick(p, familyNames, streamTeachers, i, 1) + " " + pick(p, givenNames, streamTeachers, i, 2)
				rate := fmt.Sprintf("0.%02d", 10+5*p.intn(streamTeachers, i, 5, 3))
				if !yield([]string{itoa(i + 1), name, rate}) {
					return
				}
			}
		}}
}

// Prices in won: whole thousands.
func (p *plan) coursePrice(c int) int { return (10 + p.intn(streamCourses, c, 291, 2)) * 1000 }
func (p *plan) kitPrice(k int) int    { return (5 + p.intn(streamKits, k, 46, 2)) * 1000 }

// packageCourses are the 2 to 4 different courses (0-based) of package k.
func (p *plan) packageCourses(k int) []int {
	n := min(2+p.intn(streamPackages, k, 3, 1), p.size.courses)
	out := make([]int, 0, n)
	for salt := 2; len(out) < n; salt++ {
		c := p.intn(streamPackages, k, p.size.courses, salt)
		if !contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// packagePrice is a fifth off its courses' prices.
func (p *plan) packagePrice(k int) int {
	sum := 0
	for _, c := range p.packageCourses(k) {
		sum += p.coursePrice(c)
	}
	return sum * 4 / 5 / 1000 * 1000
}

func (p *plan) courseTitle(c int) string {
	return pick(p, courseTopics, streamCourses, c, 3) + " " + pick(p, courseLevels, streamCourses, c, 4)
}

func (p *plan) courseRows() table {
	return table{kind: "courses", columns: []string{"id", "teacher_id", "title", "price"}, total: int64(p.size.courses),
		rows: func(yield func([]string) bool) {
			for c := range p.size.courses {
				teacher := 1 + p.intn(streamCourses, c, p.size.teachers, 1)
				if !yield([]string{itoa(c + 1), itoa(teacher), p.courseTitle(c), itoa(p.coursePrice(c))}) {
					return
				}
			}
		}}
}

func (p *plan) packageRows() table {
	return table{kind: "packages", columns: []string{"id", "title", "price", "course_ids"}, total: int64(p.size.packages),
		rows: func(yield func([]string) bool) {
			for k := range p.size.packages {
				courses := p.packageCourses(k)
				ids := make([]string, len(courses))
				for i, c := range courses {
					ids[i] = itoa(c + 1)
				}
				title := fmt.Sprintf("%s Bundle %d", pick(p, courseTopics, streamPackages, k, 0), k+1)
				if !yield([]string{itoa(k + 1), title, itoa(p.packagePrice(k)), strings.Join(ids, ";")}) {
					return
				}
			}
		}}
}

func (p *plan) kitRows() table {
	return table{kind: "kits", columns: []string{"id", "course_id", "title", "price"}, total: int64(p.size.kits),
		rows: func(yield func([]string) bool) {
			for k := range p.size.kits {
				c := p.intn(streamKits, k, p.size.courses, 1)
				title := p.courseTitle(c) + " " + pick(p, kitNouns, streamKits, k, 3)
				if !yield([]string{itoa(k + 1), itoa(c + 1), title, itoa(p.kitPrice(k))}) {
					return
				}
			}
		}}
}

// purchaseSpan is when the purchases fall: the month before Now's for bench
// (whole, all past); the two months before and this one up to Now for demo.
func (p *plan) purchaseSpan() (time.Time, time.Time) {
	this := time.Date(p.now.Year(), p.now.Month(), 1, 0, 0, 0, 0, time.UTC)
	if p.size.fullMonths {
		return this.AddDate(0, -p.size.purchaseMonths, 0), this
	}
	return this.AddDate(0, 1-p.size.purchaseMonths, 0), p.now
}

func (p *plan) purchaseRows() table {
	return table{kind: "purchases", columns: []string{"id", "product_type", "product_id", "buyer", "price", "refund", "status", "purchased_at"},
		total: int64(p.size.purchases),
		rows: func(yield func([]string) bool) {
			from, to := p.purchaseSpan()
			buyers := max(1, p.size.purchases/3)
			for i := range p.size.purchases {
				var typ string
				var product, price int
				switch r := p.intn(streamPurchases, i, 100, 1); {
				case r < 70:
					typ, product = "course", p.intn(streamPurchases, i, p.size.courses, 2)
					price = p.coursePrice(product)
				case r < 90:
					typ, product = "package", p.intn(streamPurchases, i, p.size.packages, 2)
					price = p.packagePrice(product)
				default:
					typ, product = "kit", p.intn(streamPurchases, i, p.size.kits, 2)
					price = p.kitPrice(product)
				}
				refund := 0
				switch r := p.intn(streamPurchases, i, 100, 3); {
				case r < 3:
					refund = price
				case r < 5:
					refund = price / 2
				}
				at := from.Add(time.Duration(p.hash(streamPurchases, i, 4) % uint64(to.Sub(from))))
				if !yield([]string{itoa(i + 1), typ, itoa(product + 1), fmt.Sprintf("buyer-%06d", p.intn(streamPurchases, i, buyers, 5)+1),
					itoa(price), itoa(refund), "", at.Truncate(time.Second).Format(time.RFC3339)}) {
					return
				}
			}
		}}
}

package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Results is everything one harness run measured (bench/out/results.json).
type Results struct {
	Started    time.Time  `json:"started"`
	Finished   time.Time  `json:"finished"`
	Machine    Machine    `json:"machine"`
	Quick      bool       `json:"quick"`
	Runs       int        `json:"runs"`
	LoadBefore string     `json:"loadBefore"`
	LoadAfter  string     `json:"loadAfter"`
	Measures   []*Measure `json:"measures"`
}

// Measure is one figure: a value per run.
type Measure struct {
	Group    string    `json:"group"` // upload, tasks, latency, memory
	Set      string    `json:"set,omitempty"`
	Endpoint string    `json:"endpoint,omitempty"`
	Client   string    `json:"client"`
	Unit     string    `json:"unit"` // s, ms, MB, tasks/s
	Values   []float64 `json:"values"`
	// Work is what one run moves (bytes for uploads, tasks for tasks), for rates.
	Files int    `json:"files,omitempty"`
	Bytes int64  `json:"bytes,omitempty"`
	Notes string `json:"notes,omitempty"`
	// Sink is what the sink received in the last run (sink endpoint only).
	Sink any `json:"sink,omitempty"`
}

func (m *Measure) Median() float64 {
	if len(m.Values) == 0 {
		return 0
	}
	v := slices.Clone(m.Values)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func (m *Measure) Min() float64 { return slices.Min(m.Values) }
func (m *Measure) Max() float64 { return slices.Max(m.Values) }

func (r *Results) get(group, set, endpoint, client string) *Measure {
	for _, m := range r.Measures {
		if m.Group == group && m.Set == set && m.Endpoint == endpoint && m.Client == client {
			return m
		}
	}
	return nil
}

// add appends a value to the measure with this key, creating it.
func (r *Results) add(proto Measure, v float64) *Measure {
	m := r.get(proto.Group, proto.Set, proto.Endpoint, proto.Client)
	if m == nil {
		m = &proto
		m.Values = nil
		r.Measures = append(r.Measures, m)
	}
	m.Values = append(m.Values, v)
	return m
}

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func spread(m *Measure) string {
	if len(m.Values) == 0 {
		return "-"
	}
	return num(m.Min()) + "–" + num(m.Max())
}

func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func printTable(w io.Writer, r *Results) {
	fmt.Fprintf(w, "\nopenbatch benchmarks — %s\nmachine: %s\nload average before/after: %s / %s; runs per figure: %d\n",
		r.Started.Format(time.RFC3339), r.Machine.String(), r.LoadBefore, r.LoadAfter, r.Runs)
	var sets []string
	var eps []string
	for _, m := range r.Measures {
		if m.Group == "upload" {
			if !slices.Contains(eps, m.Endpoint) {
				eps = append(eps, m.Endpoint)
			}
			key := m.Endpoint + "\x00" + m.Set
			if !slices.Contains(sets, key) {
				sets = append(sets, key)
			}
		}
	}
	if len(sets) > 0 {
		fmt.Fprintln(w, "\nUploads (wall time per upload; speed ratios: >1× means faster than the peer)")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "endpoint\tset\tclient\tmedian s\tmin–max s\tMB/s\tfiles/s\tvs azcopy\tvs az\tvs raw PUT\tpeak RSS MB\t")
		for _, key := range sets {
			ep, set, _ := strings.Cut(key, "\x00")
			azc := r.get("upload", set, ep, "azcopy")
			azcli := r.get("upload", set, ep, "az")
			raw := r.get("upload", set, ep, "raw-put")
			for _, cl := range []string{"openbatch-lib", "openbatch-e2e", "azcopy", "az", "raw-put"} {
				m := r.get("upload", set, ep, cl)
				if m == nil || len(m.Values) == 0 {
					continue
				}
				med := m.Median()
				mbps := float64(m.Bytes) / 1e6 / med
				fps := float64(m.Files) / med
				var ra, rz, rr string
				if azc != nil && cl != "azcopy" {
					ra = ratio(azc.Median(), med)
				}
				if azcli != nil && cl != "az" {
					rz = ratio(azcli.Median(), med)
				}
				if raw != nil && cl != "raw-put" {
					rr = fmt.Sprintf("%.0f%%", 100*raw.Median()/med)
				}
				rss := ""
				if mm := r.get("memory", set, ep, cl); mm != nil {
					rss = num(mm.Median())
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", ep, set, cl, num(med), spread(m), num(mbps), num(fps), ra, rz, rr, rss)
			}
		}
		tw.Flush()
	}
	var rest []*Measure
	for _, m := range r.Measures {
		if m.Group == "tasks" || m.Group == "latency" || (m.Group == "memory" && m.Endpoint == "") {
			rest = append(rest, m)
		}
	}
	if len(rest) > 0 {
		fmt.Fprintln(w, "\nTasks, latency and memory")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "figure\tclient\tmedian\tmin–max\tunit\tratio\t")
		for _, m := range rest {
			rat := ""
			if m.Group == "tasks" && m.Client != "bare-exec" {
				if b := r.get("tasks", m.Set, "", "bare-exec"); b != nil {
					rat = fmt.Sprintf("%.0f%% of bare exec", 100*m.Median()/b.Median())
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", m.Set, m.Client, num(m.Median()), spread(m), m.Unit, rat)
		}
		tw.Flush()
	}
}

// printMarkdown renders the upload and task tables of a results file as
// Markdown (obbench -markdown bench/out/results.json), for BENCHMARKS.md.
func printMarkdown(w io.Writer, r *Results) {
	fmt.Fprintf(w, "<!-- %s, %s, load %s → %s, %d runs -->\n\n", r.Started.Format(time.RFC3339), r.Machine.String(), r.LoadBefore, r.LoadAfter, r.Runs)
	fmt.Fprintln(w, "| endpoint | set | client | median s | min–max s | MB/s | files/s | vs azcopy | vs az | vs raw PUT | peak RSS MB |")
	fmt.Fprintln(w, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, m := range r.Measures {
		if m.Group != "upload" {
			continue
		}
		med := m.Median()
		cell := func(peer string, pct bool) string {
			p := r.get("upload", m.Set, m.Endpoint, peer)
			if p == nil || peer == m.Client {
				return ""
			}
			if pct {
				return fmt.Sprintf("%.0f%%", 100*p.Median()/med)
			}
			return ratio(p.Median(), med)
		}
		rss := ""
		if mm := r.get("memory", m.Set, m.Endpoint, m.Client); mm != nil {
			rss = num(mm.Median())
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", m.Endpoint, m.Set, m.Client, num(med), spread(m),
			num(float64(m.Bytes)/1e6/med), num(float64(m.Files)/med), cell("azcopy", false), cell("az", false), cell("raw-put", true), rss)
	}
	fmt.Fprintln(w, "\n| figure | client | median | min–max | unit | vs bare exec |")
	fmt.Fprintln(w, "|---|---|---:|---:|---|---:|")
	for _, m := range r.Measures {
		if m.Group == "tasks" || m.Group == "latency" || (m.Group == "memory" && m.Endpoint == "") {
			rat := ""
			if b := r.get("tasks", m.Set, "", "bare-exec"); m.Group == "tasks" && b != nil && m.Client != "bare-exec" {
				rat = fmt.Sprintf("%.0f%%", 100*m.Median()/b.Median())
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", m.Set, m.Client, num(m.Median()), spread(m), m.Unit, rat)
		}
	}
}

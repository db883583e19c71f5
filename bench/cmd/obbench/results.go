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

// clientOrder is the order of the upload clients in the tables.
var clientOrder = []string{"openbatch-lib", "openbatch-e2e", "azcopy", "azcopy-md5", "az", "raw-put", "raw-put-md5", "md5"}

// uploadHeader names the columns of uploadRow.
var uploadHeader = []string{"endpoint", "set", "client", "median s", "min–max s", "MB/s", "files/s",
	"vs azcopy", "vs azcopy --put-md5", "vs az", "vs raw PUT", "vs raw PUT+MD5", "peak RSS MB"}

// uploadRows returns the upload table: for each endpoint and set, one row
// per client. Speed ratios are the peer's median time over this client's;
// "vs raw PUT…" is the share of that ceiling reached.
func uploadRows(r *Results) [][]string {
	var keys []string
	for _, m := range r.Measures {
		if key := m.Endpoint + "\x00" + m.Set; m.Group == "upload" && !slices.Contains(keys, key) {
			keys = append(keys, key)
		}
	}
	var rows [][]string
	for _, key := range keys {
		ep, set, _ := strings.Cut(key, "\x00")
		for _, cl := range clientOrder {
			m := r.get("upload", set, ep, cl)
			if m == nil || len(m.Values) == 0 {
				continue
			}
			med := m.Median()
			cell := func(peer string, pct bool) string {
				p := r.get("upload", set, ep, peer)
				if p == nil || peer == cl || cl == "md5" {
					return ""
				}
				if pct {
					return fmt.Sprintf("%.0f%%", 100*p.Median()/med)
				}
				return ratio(p.Median(), med)
			}
			rss := ""
			if mm := r.get("memory", set, ep, cl); mm != nil {
				rss = num(mm.Median())
			}
			rows = append(rows, []string{ep, set, cl, num(med), spread(m), num(float64(m.Bytes) / 1e6 / med), num(float64(m.Files) / med),
				cell("azcopy", false), cell("azcopy-md5", false), cell("az", false), cell("raw-put", true), cell("raw-put-md5", true), rss})
		}
	}
	return rows
}

// aims returns the aims of issue #13 item 6 with the values of this run,
// for the sink's 1 GiB and 10,000 × 4 KiB sets, end to end (openbatch-e2e).
func aims(r *Results) []string {
	med := func(set, cl string) float64 {
		if m := r.get("upload", set, "sink", cl); m != nil && len(m.Values) > 0 {
			return m.Median()
		}
		return 0
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	var out []string
	if e2e, ceil, md5t, raw, azm := med("1x1GiB", "openbatch-e2e"), med("1x1GiB", "raw-put-md5"), med("1x1GiB", "md5"),
		med("1x1GiB", "raw-put"), med("1x1GiB", "azcopy-md5"); e2e > 0 && ceil > 0 && azm > 0 {
		out = append(out,
			fmt.Sprintf("1 GiB with MD5 ≤ 1.25 × the MD5-bound ceiling (raw PUT+MD5 %.2f s): %.2f × — %s", ceil, e2e/ceil, verdict(e2e <= 1.25*ceil)),
			fmt.Sprintf("   (vs max(MD5 alone %.2f s, raw PUT %.2f s) = %.2f s: %.2f ×)", md5t, raw, max(md5t, raw), e2e/max(md5t, raw)),
			fmt.Sprintf("1 GiB ≥ 1.8 × azcopy --put-md5 (%.2f s): %.2f × — %s", azm, azm/e2e, verdict(azm/e2e >= 1.8)))
	}
	if e2e, azc, azm, raw := med("10000x4KiB", "openbatch-e2e"), med("10000x4KiB", "azcopy"), med("10000x4KiB", "azcopy-md5"),
		med("10000x4KiB", "raw-put"); e2e > 0 && raw > 0 && (azc > 0 || azm > 0) {
		if azc > 0 {
			out = append(out, fmt.Sprintf("10,000 × 4 KiB ≥ 3 × azcopy (%.2f s): %.2f × — %s", azc, azc/e2e, verdict(azc/e2e >= 3)))
		}
		if azm > 0 {
			out = append(out, fmt.Sprintf("10,000 × 4 KiB ≥ 3 × azcopy --put-md5 (%.2f s): %.2f × — %s", azm, azm/e2e, verdict(azm/e2e >= 3)))
		}
		out = append(out, fmt.Sprintf("10,000 × 4 KiB ≥ 60 %% of raw PUT (%.2f s): %.0f %% — %s", raw, 100*raw/e2e, verdict(raw/e2e >= 0.6)))
	}
	return out
}

func printTable(w io.Writer, r *Results) {
	fmt.Fprintf(w, "\nopenbatch benchmarks — %s\nmachine: %s\nload average before/after: %s / %s; runs per figure: %d\n",
		r.Started.Format(time.RFC3339), r.Machine.String(), r.LoadBefore, r.LoadAfter, r.Runs)
	if rows := uploadRows(r); len(rows) > 0 {
		fmt.Fprintln(w, "\nUploads (wall time per upload; speed ratios: >1× means faster than the peer)")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, strings.Join(uploadHeader, "\t")+"\t")
		for _, row := range rows {
			fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
		}
		tw.Flush()
	}
	if a := aims(r); len(a) > 0 {
		fmt.Fprintln(w, "\nAims of issue #13 (sink, openbatch-e2e, medians of this run)")
		for _, l := range a {
			fmt.Fprintln(w, "  "+l)
		}
	}
	var rest []*Measure
	for _, m := range r.Measures {
		if m.Group == "tasks" || m.Group == "latency" || m.Group == "autoscale" || m.Group == "cpu" || (m.Group == "memory" && m.Endpoint == "") {
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
				if b := r.get("tasks", m.Set, "", "bare-exec+taskdir"); b != nil && m.Client != "bare-exec+taskdir" {
					rat += fmt.Sprintf(", %.0f%% of bare exec+taskdir", 100*m.Median()/b.Median())
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
	fmt.Fprintln(w, "| "+strings.Join(uploadHeader, " | ")+" |")
	fmt.Fprintln(w, "|---|---|---|"+strings.Repeat("---:|", len(uploadHeader)-3))
	for _, row := range uploadRows(r) {
		fmt.Fprintln(w, "| "+strings.Join(row, " | ")+" |")
	}
	if a := aims(r); len(a) > 0 {
		fmt.Fprintln(w)
		for _, l := range a {
			fmt.Fprintln(w, "* "+strings.TrimSpace(l))
		}
	}
	fmt.Fprintln(w, "\n| figure | client | median | min–max | unit | vs bare exec |")
	fmt.Fprintln(w, "|---|---|---:|---:|---|---:|")
	for _, m := range r.Measures {
		if m.Group == "tasks" || m.Group == "latency" || m.Group == "autoscale" || m.Group == "cpu" || (m.Group == "memory" && m.Endpoint == "") {
			rat := ""
			if b := r.get("tasks", m.Set, "", "bare-exec"); m.Group == "tasks" && b != nil && m.Client != "bare-exec" {
				rat = fmt.Sprintf("%.0f%%", 100*m.Median()/b.Median())
				if b := r.get("tasks", m.Set, "", "bare-exec+taskdir"); b != nil && m.Client != "bare-exec+taskdir" {
					rat += fmt.Sprintf(" (%.0f%% of bare exec+taskdir)", 100*m.Median()/b.Median())
				}
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", m.Set, m.Client, num(m.Median()), spread(m), m.Unit, rat)
		}
	}
}

// Command obbench is openbatch's benchmark driver (run it through
// bench/run.sh). It measures, side by side and interleaved, uploads of the
// same file sets by openbatch (the outputfiles engine as a library call, and
// a task's outputFiles end to end through `openbatch dev`), azcopy and the
// Azure CLI, against Azurite and a fast discarding blob sink; trivial tasks
// through openbatch against a bare exec loop; task add/list latency; and
// peak memory. It prints a table and writes a JSON file of every run.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/openbatch/openbatch/bench/sink"
)

type config struct {
	quick               bool
	runs                int
	out                 string
	work                string
	openbatch           string
	azcopy              string
	az                  string
	only                string
	tasks               int
	scaleTasks          int
	scaleVariants       string
	scaleAgentRoot      string
	bigJob              int
	latencyAt           []int
	keep                bool
	sinkSets, aziteSets []fileSet
	uploadEndpoints     string
	clients             string
	// The autoscale part: pool size, tasks, their command, time limit.
	asNodes, asTasks int
	asCommand        string
	asTimeout        time.Duration
}

func main() {
	var cfg config
	serveSink := flag.String("serve-sink", "", "internal: serve the blob sink on this address and print its URL")
	flag.BoolVar(&cfg.quick, "quick", false, "scale everything down for a fast smoke run")
	flag.IntVar(&cfg.runs, "runs", 5, "rounds of every measurement (median, min and max are reported)")
	flag.StringVar(&cfg.out, "out", "bench/out/results.json", "JSON results file")
	flag.StringVar(&cfg.work, "work", "", "scratch directory (default: a new temporary directory, removed at the end)")
	flag.StringVar(&cfg.openbatch, "openbatch", "", "the openbatch binary (built by run.sh)")
	flag.StringVar(&cfg.azcopy, "azcopy", "", "the azcopy binary")
	flag.StringVar(&cfg.az, "az", "az", "the Azure CLI")
	flag.StringVar(&cfg.only, "only", "uploads,tasks,latency,scale,bigjob,autoscale", "comma-separated parts to run: uploads, tasks, latency, scale, bigjob, autoscale")
	flag.IntVar(&cfg.asNodes, "autoscale-nodes", 50, "autoscale part: the formula's maxNumberofVMs (agents as processes)")
	flag.IntVar(&cfg.asTasks, "autoscale-tasks", 500, "autoscale part: tasks added to the empty pool")
	flag.StringVar(&cfg.asCommand, "autoscale-command", "sleep 1", "autoscale part: each task's command line")
	flag.DurationVar(&cfg.asTimeout, "autoscale-timeout", 30*time.Minute, "autoscale part: give up when the pool is not back to 0 nodes by then")
	flag.StringVar(&cfg.uploadEndpoints, "endpoints", "sink,azurite", "upload endpoints: sink, azurite")
	flag.StringVar(&cfg.clients, "clients", "", "comma-separated upload clients to run (default all): openbatch-lib, openbatch-e2e, azcopy, azcopy-md5, az, raw-put, raw-put-md5, md5")
	flag.IntVar(&cfg.tasks, "tasks", 2000, "trivial tasks per round of the task-throughput benchmark")
	flag.StringVar(&cfg.scaleVariants, "scale-variants", "bare-exec,bare-exec+taskdir,sqlite,postgres,postgres3", "scale part: comma-separated deployments to run: bare-exec, bare-exec+taskdir (the bare loop making each task's Azure task directory), sqlite (1 server), postgres (1 server), postgres3 (3 servers)")
	flag.StringVar(&cfg.scaleAgentRoot, "scale-agent-root", "", "scale part: the directory under which the agents keep their node roots (default: the scratch directory; /dev/shm takes the disk out of the figure)")
	flag.IntVar(&cfg.scaleTasks, "scale-tasks", 2000, "trivial tasks per round of the scale benchmark (servers and agents as processes)")
	flag.IntVar(&cfg.bigJob, "bigjob", 100000, "tasks in the PostgreSQL job of the bigjob benchmark (the issue's figure: -bigjob 1000000)")
	lat := flag.String("latency-at", "10000,100000", "job sizes at which task add/list latency is measured")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the scratch directory")
	markdown := flag.String("markdown", "", "print the tables of this results file as Markdown and exit")
	flag.Parse()
	if *markdown != "" {
		data, err := os.ReadFile(*markdown)
		if err != nil {
			log.Fatal(err)
		}
		var r Results
		if err := json.Unmarshal(data, &r); err != nil {
			log.Fatal(err)
		}
		printMarkdown(os.Stdout, &r)
		return
	}
	if *serveSink != "" {
		runSink(*serveSink)
		return
	}
	for _, f := range strings.Split(*lat, ",") {
		var n int
		if _, err := fmt.Sscan(f, &n); err != nil || n <= 0 {
			log.Fatalf("-latency-at: bad size %q", f)
		}
		cfg.latencyAt = append(cfg.latencyAt, n)
	}
	cfg.sinkSets = []fileSet{{"1x1GiB", 1, 1 << 30}, {"100x10MiB", 100, 10 << 20}, {"10000x4KiB", 10000, 4 << 10}}
	// Azurite stores every byte (≈45 MB/s, ≈50 files/s here): full sets × 4
	// clients × 5 rounds would take over an hour, and every client would
	// measure Azurite. Its sets are scaled down; the ratios are what matter.
	cfg.aziteSets = []fileSet{{"1x128MiB", 1, 128 << 20}, {"10x10MiB", 10, 10 << 20}, {"500x4KiB", 500, 4 << 10}}
	if cfg.quick {
		cfg.sinkSets = []fileSet{{"1x64MiB", 1, 64 << 20}, {"10x4MiB", 10, 4 << 20}, {"300x4KiB", 300, 4 << 10}}
		cfg.aziteSets = []fileSet{{"1x16MiB", 1, 16 << 20}, {"4x4MiB", 4, 4 << 20}, {"50x4KiB", 50, 4 << 10}}
		if !flagSet("runs") {
			cfg.runs = 2
		}
		if !flagSet("tasks") {
			cfg.tasks = 100
		}
		if !flagSet("latency-at") {
			cfg.latencyAt = []int{1000, 3000}
		}
		if !flagSet("scale-tasks") {
			cfg.scaleTasks = 200
		}
		if !flagSet("bigjob") {
			cfg.bigJob = 5000
		}
		if !flagSet("autoscale-nodes") {
			cfg.asNodes = 5
		}
		if !flagSet("autoscale-tasks") {
			cfg.asTasks = 200 // one node runs ≈1 task/s for the formula's first ≈130 s
		}
	}
	if cfg.openbatch == "" {
		log.Fatal("-openbatch is required (bench/run.sh builds it)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, &cfg); err != nil {
		log.Fatal(err)
	}
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func runSink(addr string) {
	s := sink.New()
	url, _, err := sink.Serve(s, addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(url)
	select {}
}

func run(ctx context.Context, cfg *config) error {
	if cfg.work == "" {
		d, err := os.MkdirTemp("", "obbench-")
		if err != nil {
			return err
		}
		cfg.work = d
		if !cfg.keep {
			defer os.RemoveAll(d)
		}
	}
	res := &Results{Started: time.Now().UTC(), Machine: machine(), Quick: cfg.quick, Runs: cfg.runs}
	res.LoadBefore = loadavg()
	parts := map[string]bool{}
	for _, p := range strings.Split(cfg.only, ",") {
		parts[strings.TrimSpace(p)] = true
	}
	logf("machine: %s", res.Machine.String())
	logf("load before: %s; scratch: %s", res.LoadBefore, cfg.work)
	if parts["uploads"] {
		if err := benchUploads(ctx, cfg, res); err != nil {
			return fmt.Errorf("uploads: %w", err)
		}
	}
	if parts["tasks"] {
		if err := benchTasks(ctx, cfg, res); err != nil {
			return fmt.Errorf("tasks: %w", err)
		}
	}
	if parts["latency"] {
		if err := benchLatency(ctx, cfg, res); err != nil {
			return fmt.Errorf("latency: %w", err)
		}
	}
	if parts["scale"] {
		if err := benchScale(ctx, cfg, res); err != nil {
			return fmt.Errorf("scale: %w", err)
		}
	}
	if parts["bigjob"] {
		if err := benchBigJob(ctx, cfg, res); err != nil {
			return fmt.Errorf("bigjob: %w", err)
		}
	}
	if parts["autoscale"] {
		if err := benchAutoscale(ctx, cfg, res); err != nil {
			return fmt.Errorf("autoscale: %w", err)
		}
	}
	res.LoadAfter = loadavg()
	res.Finished = time.Now().UTC()
	printTable(os.Stdout, res)
	if err := os.MkdirAll(filepath.Dir(cfg.out), 0o755); err != nil {
		return err
	}
	data, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(cfg.out, data, 0o644); err != nil {
		return err
	}
	logf("wrote %s", cfg.out)
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s obbench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// Machine describes where the numbers were taken.
type Machine struct {
	CPUs      int     `json:"cpus"`
	CPUModel  string  `json:"cpuModel"`
	MemoryGiB float64 `json:"memoryGiB"`
	Kernel    string  `json:"kernel"`
	Go        string  `json:"go"`
}

func (m Machine) String() string {
	return fmt.Sprintf("%d CPUs (%s), %.1f GiB RAM, Linux %s, %s", m.CPUs, m.CPUModel, m.MemoryGiB, m.Kernel, m.Go)
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if kb := procField("/proc/meminfo", "MemTotal"); kb > 0 {
		m.MemoryGiB = float64(kb) / (1 << 20)
	}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		m.Go = strings.TrimSpace(string(out))
	}
	return m
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

// procField returns a "Name:   123 kB" field of a /proc status-like file, in kB.
func procField(path, name string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == name {
			var n int64
			fmt.Sscan(strings.TrimSpace(v), &n)
			return n
		}
	}
	return 0
}

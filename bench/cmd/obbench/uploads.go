package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"golang.org/x/sync/errgroup"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/bench/sink"
	"github.com/openbatch/openbatch/blob/azure"
	"github.com/openbatch/openbatch/internal/azurite"
	"github.com/openbatch/openbatch/outputfiles"
)

type fileSet struct {
	Name  string
	Files int
	Size  int64
}

func (s fileSet) bytes() int64 { return int64(s.Files) * s.Size }

// generate writes the set's files (random bytes) into dir/wd once.
func generate(dir string, s fileSet) error {
	wd := filepath.Join(dir, "wd")
	if _, err := os.Stat(filepath.Join(dir, ".done")); err == nil {
		return nil
	}
	if err := os.MkdirAll(wd, 0o755); err != nil {
		return err
	}
	rng := rand.NewChaCha8([32]byte{byte(s.Files), byte(s.Size)})
	buf := make([]byte, min(s.Size, 4<<20))
	for i := range s.Files {
		f, err := os.Create(filepath.Join(wd, fmt.Sprintf("f%05d.bin", i)))
		if err != nil {
			return err
		}
		for left := s.Size; left > 0; {
			n := min(left, int64(len(buf)))
			_, _ = rng.Read(buf[:n])
			if _, err := f.Write(buf[:n]); err != nil {
				f.Close()
				return err
			}
			left -= n
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, ".done"), nil, 0o644)
}

// endpoint is a blob service the clients upload to.
type endpoint struct {
	name string
	sets []fileSet
	// container creates a container and returns its URL with a SAS.
	container func(ctx context.Context, name string) (string, error)
	// drop deletes a container (untimed).
	drop func(ctx context.Context, name string)
	// connString is an Azure Storage connection string for az.
	connString string
	// sinkURL is set for the sink, for its counters.
	sinkURL string
}

const fakeSAS = "sv=2021-06-08&ss=b&srt=sco&sp=racwdl&se=2030-01-01T00%3A00%3A00Z&sig=bm90LWNoZWNrZWQ%3D"

func sinkEndpoint(base string, sets []fileSet) *endpoint {
	return &endpoint{name: "sink", sets: sets, sinkURL: base,
		container: func(ctx context.Context, name string) (string, error) {
			return base + "/" + azurite.Account + "/" + name + "?" + fakeSAS, nil
		},
		drop: func(context.Context, string) {},
		connString: "DefaultEndpointsProtocol=http;AccountName=" + azurite.Account + ";AccountKey=" + azurite.Key +
			";BlobEndpoint=" + base + "/" + azurite.Account + ";"}
}

func azuriteEndpoint(a *azurite.Azurite, sets []fileSet) (*endpoint, error) {
	cred, err := service.NewSharedKeyCredential(a.Account, a.Key)
	if err != nil {
		return nil, err
	}
	svc, err := service.NewClientWithSharedKeyCredential(a.Endpoint+"/", cred,
		&service.ClientOptions{ClientOptions: azure.ClientOptions(azcore.ClientOptions{}, "")})
	if err != nil {
		return nil, err
	}
	return &endpoint{name: "azurite", sets: sets,
		container: func(ctx context.Context, name string) (string, error) {
			cc := svc.NewContainerClient(name)
			if _, err := cc.Create(ctx, nil); err != nil {
				return "", err
			}
			return cc.GetSASURL(sas.ContainerPermissions{Read: true, Add: true, Create: true, Write: true, List: true, Delete: true},
				time.Now().Add(24*time.Hour), nil)
		},
		drop: func(ctx context.Context, name string) { _, _ = svc.NewContainerClient(name).Delete(ctx, nil) },
		connString: "DefaultEndpointsProtocol=http;AccountName=" + a.Account + ";AccountKey=" + a.Key +
			";BlobEndpoint=" + a.Endpoint + ";"}, nil
}

// upCtx is what a client run gets.
type upCtx struct {
	ep        *endpoint
	set       fileSet
	dir       string // the set's directory (files in dir/wd)
	container string // container name
	url       string // container URL with SAS
	prefix    string // virtual directory for this run's blobs
	log       string
}

type uploader struct {
	name string
	// run uploads and returns the wall time and the peak RSS in MB (0: not measured).
	run func(ctx context.Context, u upCtx) (time.Duration, float64, error)
}

func withPath(containerURL, prefix string) string {
	base, q, _ := strings.Cut(containerURL, "?")
	return base + "/" + prefix + "?" + q
}

func benchUploads(ctx context.Context, cfg *config, res *Results) error {
	work := cfg.work
	// File sets, generated once.
	for _, ep := range []struct {
		n    string
		sets []fileSet
	}{{"sink", cfg.sinkSets}, {"azurite", cfg.aziteSets}} {
		for _, s := range ep.sets {
			logf("generating %s set %s", ep.n, s.Name)
			if err := generate(filepath.Join(work, "sets", ep.n, s.Name), s); err != nil {
				return err
			}
		}
	}
	var eps []*endpoint
	for _, e := range strings.Split(cfg.uploadEndpoints, ",") {
		switch strings.TrimSpace(e) {
		case "sink":
			base, stop, err := startSinkProcess(ctx, filepath.Join(work, "sink.log"))
			if err != nil {
				return err
			}
			defer stop()
			eps = append(eps, sinkEndpoint(base, cfg.sinkSets))
		case "azurite":
			logf("starting Azurite (on disk)")
			a, err := azurite.Start(ctx, filepath.Join(work, "azurite"))
			if err != nil {
				return err
			}
			defer a.Close()
			ep, err := azuriteEndpoint(a, cfg.aziteSets)
			if err != nil {
				return err
			}
			eps = append(eps, ep)
		}
	}

	// openbatch dev, with the sets placed in its node's shared directory.
	// It is restarted before each upload of a one-file (largest) set, so
	// that the peak RSS measured for that upload starts from a fresh process
	// and not from heap retained by earlier uploads.
	var dev *devServer
	startUploadDev := func() error {
		if dev != nil {
			dev.Close()
		}
		var err error
		if dev, err = startDev(ctx, cfg.openbatch, filepath.Join(work, "dev-uploads")); err != nil {
			return err
		}
		if _, err := dev.addPool(ctx, "uploads", 1, 1); err != nil {
			return err
		}
		if err := dev.C.AddJob(ctx, &api.Job{ID: "uploads", PoolInfo: &api.PoolInformation{PoolID: "uploads"}}); err != nil {
			return err
		}
		shared, err := sharedDir(ctx, dev)
		if err != nil {
			return err
		}
		for _, ep := range eps {
			for _, s := range ep.sets {
				if err := linkTree(filepath.Join(work, "sets", ep.name, s.Name, "wd"), filepath.Join(shared, "sets", ep.name, s.Name)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := startUploadDev(); err != nil {
		return err
	}
	defer func() { dev.Close() }()

	opener, err := outputfiles.NewOpener(azure.Options{})
	if err != nil {
		return err
	}
	engine := outputfiles.New(opener, outputfiles.Options{Logger: slog.New(slog.DiscardHandler)})
	azcopyDir := filepath.Join(work, "azcopy")
	azDir := filepath.Join(work, "azconfig")
	_ = os.MkdirAll(azDir, 0o755)
	azEnv := []string{"AZURE_CONFIG_DIR=" + azDir, "AZURE_CORE_COLLECT_TELEMETRY=false", "AZURE_CORE_ONLY_SHOW_ERRORS=true"}
	// The first az call builds its command index (≈2 s); not measured.
	_, _, _ = runTimed(ctx, cfg.az, []string{"storage", "blob", "upload-batch", "-h"}, azEnv, filepath.Join(work, "az-warm.log"))
	taskSeq := 0

	clients := []uploader{
		{"openbatch-lib", func(ctx context.Context, u upCtx) (time.Duration, float64, error) {
			start := time.Now()
			r, err := engine.Upload(ctx, outputfiles.Request{TaskDir: u.dir, WorkingDir: filepath.Join(u.dir, "wd"),
				Outcome: outputfiles.ExitedWith(0), OutputFiles: []api.OutputFile{outFile("*", u.url, u.prefix)}})
			el := time.Since(start)
			if err == nil && r.FailureInfo != nil {
				err = fmt.Errorf("%s: %s", r.FailureInfo.Code, r.FailureInfo.Message)
			}
			if err == nil && r.Uploaded != u.set.Files {
				err = fmt.Errorf("uploaded %d of %d files", r.Uploaded, u.set.Files)
			}
			return el, 0, err
		}},
		{"openbatch-e2e", func(ctx context.Context, u upCtx) (time.Duration, float64, error) {
			taskSeq++
			id := fmt.Sprintf("t%04d", taskSeq)
			pattern := "$AZ_BATCH_NODE_SHARED_DIR/sets/" + u.ep.name + "/" + u.set.Name + "/*"
			t := &api.Task{ID: id, CommandLine: "/bin/true", OutputFiles: []api.OutputFile{outFile(pattern, u.url, u.prefix)}}
			if u.set.Files == 1 {
				if err := startUploadDev(); err != nil {
					return 0, 0, err
				}
			}
			if err := resetPeak(dev.Pid()); err != nil {
				return 0, 0, err
			}
			start := time.Now()
			if err := dev.C.AddTask(ctx, "uploads", t); err != nil {
				return 0, 0, err
			}
			done, err := dev.waitCompleted(ctx, "uploads", id)
			el := time.Since(start)
			peak := peakMB(dev.Pid())
			if err == nil && done.ExecutionInfo != nil && done.ExecutionInfo.FailureInfo != nil {
				err = fmt.Errorf("task failed: %s: %s", done.ExecutionInfo.FailureInfo.Code, done.ExecutionInfo.FailureInfo.Message)
			}
			return el, peak, err
		}},
		{"azcopy", func(ctx context.Context, u upCtx) (time.Duration, float64, error) {
			_ = os.RemoveAll(azcopyDir)
			_ = os.MkdirAll(azcopyDir, 0o755)
			return runTimed(ctx, cfg.azcopy, []string{"copy", filepath.Join(u.dir, "wd") + "/*", withPath(u.url, u.prefix),
				"--from-to", "LocalBlob", "--recursive", "--log-level", "ERROR", "--output-level", "quiet"},
				[]string{"AZCOPY_LOG_LOCATION=" + azcopyDir, "AZCOPY_JOB_PLAN_LOCATION=" + azcopyDir, "AZCOPY_DISABLE_SYSLOG=true"}, u.log)
		}},
		{"azcopy-md5", func(ctx context.Context, u upCtx) (time.Duration, float64, error) {
			_ = os.RemoveAll(azcopyDir)
			_ = os.MkdirAll(azcopyDir, 0o755)
			return runTimed(ctx, cfg.azcopy, []string{"copy", filepath.Join(u.dir, "wd") + "/*", withPath(u.url, u.prefix),
				"--from-to", "LocalBlob", "--recursive", "--put-md5", "--log-level", "ERROR", "--output-level", "quiet"},
				[]string{"AZCOPY_LOG_LOCATION=" + azcopyDir, "AZCOPY_JOB_PLAN_LOCATION=" + azcopyDir, "AZCOPY_DISABLE_SYSLOG=true"}, u.log)
		}},
		{"az", func(ctx context.Context, u upCtx) (time.Duration, float64, error) {
			return runTimed(ctx, cfg.az, []string{"storage", "blob", "upload-batch", "-d", u.container, "-s", filepath.Join(u.dir, "wd"),
				"--destination-path", u.prefix, "--connection-string", u.ep.connString, "--max-connections", "8",
				"--overwrite", "true", "--no-progress", "--only-show-errors", "-o", "none"}, azEnv, u.log)
		}},
		{"raw-put", func(ctx context.Context, u upCtx) (time.Duration, float64, error) {
			start := time.Now()
			err := rawPut(ctx, u, false)
			return time.Since(start), 0, err
		}},
		{"raw-put-md5", func(ctx context.Context, u upCtx) (time.Duration, float64, error) {
			start := time.Now()
			err := rawPut(ctx, u, true)
			return time.Since(start), 0, err
		}},
		{"md5", func(ctx context.Context, u upCtx) (time.Duration, float64, error) {
			start := time.Now()
			err := md5Only(ctx, u)
			return time.Since(start), 0, err
		}},
	}
	if cfg.clients != "" {
		var keep []uploader
		for _, c := range clients {
			if slices.Contains(strings.Split(cfg.clients, ","), c.name) {
				keep = append(keep, c)
			}
		}
		clients = keep
	}

	for round := range cfg.runs {
		for _, ep := range eps {
			for _, s := range ep.sets {
				order := rotate(clients, round)
				for _, cl := range order {
					if sinkOnly(cl.name) && ep.sinkURL == "" {
						continue
					}
					name := fmt.Sprintf("r%d-%s", round, strings.ToLower(strings.ReplaceAll(cl.name, "-", "")))
					u := upCtx{ep: ep, set: s, dir: filepath.Join(work, "sets", ep.name, s.Name), container: name,
						prefix: s.Name, log: filepath.Join(work, "logs", ep.name+"-"+s.Name+"-"+cl.name+".log")}
					_ = os.MkdirAll(filepath.Dir(u.log), 0o755)
					if u.url, err = ep.container(ctx, name); err != nil {
						return fmt.Errorf("%s: create container: %w", ep.name, err)
					}
					el, rss, err := cl.run(ctx, u)
					if err != nil {
						return fmt.Errorf("%s %s %s round %d: %w", ep.name, s.Name, cl.name, round, err)
					}
					m := res.add(Measure{Group: "upload", Set: s.Name, Endpoint: ep.name, Client: cl.name, Unit: "s",
						Files: s.Files, Bytes: s.bytes()}, el.Seconds())
					if rss > 0 {
						res.add(Measure{Group: "memory", Set: s.Name, Endpoint: ep.name, Client: cl.name, Unit: "MB"}, rss)
					}
					note := ""
					if ep.sinkURL != "" && cl.name != "md5" {
						st, err := sinkStats(ep.sinkURL)
						if err != nil {
							return err
						}
						if st.Bytes < s.bytes() {
							return fmt.Errorf("%s %s %s: the sink received %d bytes, want %d", ep.name, s.Name, cl.name, st.Bytes, s.bytes())
						}
						m.Sink = st
						note = fmt.Sprintf(" [sink: %d req, %d MD5 verified]", st.Requests, st.MD5Verified)
					}
					ep.drop(ctx, name)
					logf("round %d %-7s %-10s %-13s %7.2fs %6.0f MB/s peak %4.0f MB%s", round+1, ep.name, s.Name, cl.name,
						el.Seconds(), float64(s.bytes())/1e6/el.Seconds(), rss, note)
				}
			}
		}
	}
	return nil
}

func rotate[T any](s []T, n int) []T {
	n %= len(s)
	return append(append([]T(nil), s[n:]...), s[:n]...)
}

func outFile(pattern, url, path string) api.OutputFile {
	return api.OutputFile{FilePattern: pattern,
		Destination:   api.OutputFileDestination{Container: &api.OutputFileBlobContainerDestination{ContainerURL: url, Path: path}},
		UploadOptions: api.OutputFileUploadOptions{UploadCondition: api.OutputFileUploadCondition("taskcompletion")}}
}

// sharedDir asks the node for $AZ_BATCH_NODE_SHARED_DIR by running a task.
func sharedDir(ctx context.Context, dev *devServer) (string, error) {
	if err := dev.C.AddTask(ctx, "uploads", &api.Task{ID: "where", CommandLine: "/bin/sh -c 'echo $AZ_BATCH_NODE_SHARED_DIR'"}); err != nil {
		return "", err
	}
	if _, err := dev.waitCompleted(ctx, "uploads", "where"); err != nil {
		return "", err
	}
	out, err := dev.C.GetTaskFile(ctx, "uploads", "where", "stdout.txt")
	if err != nil {
		return "", err
	}
	d := strings.TrimSpace(string(out))
	if d == "" || !filepath.IsAbs(d) {
		return "", fmt.Errorf("AZ_BATCH_NODE_SHARED_DIR is %q", d)
	}
	return d, nil
}

// linkTree hard-links every file of src into dst (copying when links fail),
// so that the task reads the same files as the other clients.
func linkTree(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		s, d := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		if err := os.Link(s, d); err != nil && !os.IsExist(err) {
			if out, err := exec.Command("cp", s, d).CombinedOutput(); err != nil {
				return fmt.Errorf("copy %s: %v %s", s, err, out)
			}
		}
	}
	return nil
}

func startSinkProcess(ctx context.Context, logPath string) (string, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(self, "-serve-sink", "127.0.0.1:0")
	lf, err := os.Create(logPath)
	if err != nil {
		return "", nil, err
	}
	cmd.Stderr = lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	var line [128]byte
	n, err := out.Read(line[:])
	if err != nil {
		_ = cmd.Process.Kill()
		return "", nil, fmt.Errorf("sink did not start: %w", err)
	}
	base := strings.TrimSpace(string(line[:n]))
	logf("blob sink at %s (pid %d)", base, cmd.Process.Pid)
	return base, func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); lf.Close() }, nil
}

func sinkStats(base string) (sink.Stats, error) {
	var st sink.Stats
	resp, err := http.Get(base + "/__stats")
	if err != nil {
		return st, err
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil {
		return st, err
	}
	r2, err := http.Post(base+"/__reset", "", nil)
	if err == nil {
		r2.Body.Close()
	}
	return st, err
}

var rawClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}

// sinkOnly reports whether a client runs only against the sink: the
// ceilings (raw PUTs, MD5 alone), which are not storage clients.
func sinkOnly(client string) bool {
	return client == "raw-put" || client == "raw-put-md5" || client == "md5"
}

// rawPut is the sink's ceiling: plain HTTP PUTs of the set's bytes with the
// parallelism openbatch uses by default for large files — 8 files at once;
// a file over 8 MiB as 8 MiB blocks, at most 4 at once per file and at most
// 8 block buffers (64 MiB) in flight overall, then a block list — with no
// retries and no SDK. With withMD5 it also computes each file's MD5 as
// openbatch does and sends it: a single PUT carries Content-MD5 (which the
// sink verifies); a file in blocks is hashed in order by one goroutine while
// its blocks are sent, and the block list carries x-ms-blob-content-md5. That
// is the MD5-bound ceiling: MD5 and PUTs pipelined, nothing else.
func rawPut(ctx context.Context, u upCtx, withMD5 bool) error {
	const block = 8 << 20
	base, q, _ := strings.Cut(u.url, "?")
	wd := filepath.Join(u.dir, "wd")
	put := func(url string, body []byte, hdr map[string]string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := rawClient.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("PUT: %s", resp.Status)
		}
		return nil
	}
	bufs := make(chan []byte, 8)
	for range 8 {
		bufs <- nil
	}
	getBuf := func(n int64) []byte {
		b := <-bufs
		if int64(cap(b)) < n {
			b = make([]byte, max(n, block))
		}
		return b[:n]
	}
	one := func(name string) error {
		f, err := os.Open(filepath.Join(wd, name))
		if err != nil {
			return err
		}
		defer f.Close()
		url := base + "/" + u.prefix + "/" + name
		if u.set.Size <= block {
			buf := getBuf(u.set.Size)
			defer func() { bufs <- buf }()
			if _, err := f.ReadAt(buf, 0); err != nil {
				return err
			}
			hdr := map[string]string{"x-ms-blob-type": "BlockBlob"}
			if withMD5 {
				sum := md5.Sum(buf)
				hdr["Content-MD5"] = base64.StdEncoding.EncodeToString(sum[:])
			}
			return put(url+"?"+q, buf, hdr)
		}
		n := int((u.set.Size + block - 1) / block)
		ids := make([]string, n)
		// Each buffer is released by the last of its PUT and its hashing.
		type blk struct {
			buf  []byte
			refs atomic.Int32
		}
		release := func(b *blk) {
			if b.refs.Add(-1) == 0 {
				bufs <- b.buf
			}
		}
		h := md5.New()
		hashq := make(chan *blk, 8)
		hashed := make(chan struct{})
		go func() {
			defer close(hashed)
			for b := range hashq {
				h.Write(b.buf)
				release(b)
			}
		}()
		var g errgroup.Group
		g.SetLimit(4)
		var readErr error
		for i := range n {
			off := int64(i) * block
			b := &blk{buf: getBuf(min(block, u.set.Size-off))}
			if _, err := f.ReadAt(b.buf, off); err != nil {
				bufs <- b.buf
				readErr = err
				break
			}
			b.refs.Store(1)
			if withMD5 {
				b.refs.Store(2)
				hashq <- b
			}
			ids[i] = base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "blk-%06d", i))
			bu := url + "?comp=block&blockid=" + ids[i] + "&" + q
			g.Go(func() error { defer release(b); return put(bu, b.buf, nil) })
		}
		close(hashq)
		err = errors.Join(readErr, g.Wait())
		<-hashed
		if err != nil {
			return err
		}
		var xml strings.Builder
		xml.WriteString(`<?xml version="1.0" encoding="utf-8"?><BlockList>`)
		for _, id := range ids {
			xml.WriteString("<Latest>" + id + "</Latest>")
		}
		xml.WriteString("</BlockList>")
		var hdr map[string]string
		if withMD5 {
			hdr = map[string]string{"x-ms-blob-content-md5": base64.StdEncoding.EncodeToString(h.Sum(nil))}
		}
		return put(url+"?comp=blocklist&"+q, []byte(xml.String()), hdr)
	}
	var g errgroup.Group
	g.SetLimit(8)
	for i := range u.set.Files {
		name := fmt.Sprintf("f%05d.bin", i)
		g.Go(func() error { return one(name) })
	}
	return g.Wait()
}

// md5Only is MD5 alone: every file of the set read (from the page cache)
// and hashed, 8 files at once, each by one goroutine. For one large file it
// is one core hashing, the bound of any client that sets a whole-blob
// Content-MD5.
func md5Only(ctx context.Context, u upCtx) error {
	wd := filepath.Join(u.dir, "wd")
	var g errgroup.Group
	g.SetLimit(8)
	for i := range u.set.Files {
		name := filepath.Join(wd, fmt.Sprintf("f%05d.bin", i))
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			f, err := os.Open(name)
			if err != nil {
				return err
			}
			defer f.Close()
			h := md5.New()
			buf := make([]byte, min(u.set.Size, 1<<20)+1)
			n, err := io.CopyBuffer(h, onlyReader{f}, buf)
			if err == nil && n != u.set.Size {
				err = fmt.Errorf("%s: read %d bytes, want %d", name, n, u.set.Size)
			}
			return err
		})
	}
	return g.Wait()
}

// onlyReader hides a file's WriterTo/ReaderFrom so io.CopyBuffer uses the
// given buffer.
type onlyReader struct{ io.Reader }

package conventions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openbatch/openbatch/blob"
)

// Limits and defaults of tracked saves.
const (
	// DefaultFlushInterval is the flush interval when none is given, as in
	// .NET (1 minute).
	DefaultFlushInterval = time.Minute
	// DefaultMaxBlockSize is the default largest append block: 4 MiB, the
	// limit of every service version and of Azurite. A flush of more data
	// is split into several blocks.
	DefaultMaxBlockSize = 4 << 20
	// MaxAppendBlockSize is the largest append block Azure accepts (service
	// version 2022-11-02 and later).
	MaxAppendBlockSize = 100 << 20
	// MaxAppendBlobBlocks is Azure's limit on blocks in one append blob.
	MaxAppendBlobBlocks = 50000
	// maxAppendBlobSize is Azure's limit on an append blob's size
	// (50,000 × 4 MiB).
	maxAppendBlobSize = MaxAppendBlobBlocks * (4 << 20)
	// generationSep separates a blob name from its generation number:
	// "stdout.txt", then "stdout.txt.gen1", "stdout.txt.gen2", …
	generationSep = ".gen"
	// sourceOffsetMeta is the metadata key holding the source offset at
	// which a generation blob begins.
	sourceOffsetMeta = "openbatchsourceoffset"
	// verifyBytes is how much of the end of a resumed blob is compared with
	// the source before appending to it.
	verifyBytes = 4096
	// maxDeferIntervals bounds how long the block budget may hold data back.
	maxDeferIntervals = 16
)

// ErrSourceTruncated is returned (wrapped) when a tracked file shrank, was
// replaced, or does not continue the stored blob, and the tracker was told
// to stop in that case ([StopOnTruncate]).
var ErrSourceTruncated = errors.New("tracked file was truncated or replaced")

// ErrTrackerStopped is returned by Flush after Stop.
var ErrTrackerStopped = errors.New("tracked save is stopped")

// TruncatePolicy says what a tracked save does when its source stops being
// an extension of what was uploaded: the file shrank (truncated, or
// recreated by a retried task), or was replaced by another file (rotated).
type TruncatePolicy int

const (
	// NewGeneration (the default) keeps the uploaded blob as it is and
	// starts a new blob "{name}.gen{N}" holding the file from its start.
	// Nothing uploaded is lost, and nothing is duplicated within a blob.
	NewGeneration TruncatePolicy = iota
	// StopOnTruncate ends the tracked save with [ErrSourceTruncated].
	StopOnTruncate
)

// TrackOptions tunes a tracked save. The zero value (or nil) means the
// defaults.
type TrackOptions struct {
	// MaxBlockSize is the largest append block, in bytes: default
	// DefaultMaxBlockSize (4 MiB), at most MaxAppendBlockSize (100 MiB,
	// which needs a service that supports it).
	MaxBlockSize int64
	// MaxBlocks is the block budget of one blob: default (and at most)
	// MaxAppendBlobBlocks. Lower values are for tests of the roll-over.
	MaxBlocks int
	// OnTruncate is the truncation policy; default NewGeneration.
	OnTruncate TruncatePolicy
	// OnError is called with each error of a timer flush (the data is
	// retried at the next flush). nil logs the error as a warning.
	OnError func(error)
	// Logger receives the tracker's log; nil means slog.Default().
	Logger *slog.Logger
}

// TrackStatus is a snapshot of a tracked save.
type TrackStatus struct {
	// BlobName is the blob currently appended to.
	BlobName string
	// Generation is 0 for the first blob, N for "{name}.genN".
	Generation int
	// SourceOffset is how much of the source file is stored.
	SourceOffset int64
	// Blocks is the number of blocks in the current blob.
	Blocks int
}

// TrackedSave streams a growing file (a log) to an append blob while it is
// written. Start one with [TaskOutputStorage.SaveTracked]; end it with Stop,
// which uploads what is left.
//
// How it differs from .NET's tracked save, on purpose:
//   - it resumes: a new tracker (a restarted process, a retried task) reads
//     the stored blob's length and appends only what follows, after checking
//     that the file's bytes just before that point equal the blob's end; it
//     never re-appends the whole file;
//   - truncation and replacement of the file are detected (size below what
//     was uploaded, different file identity, or mismatching content at
//     resume) and handled by [TruncatePolicy], not silently ignored;
//   - appends are conditional on the blob's length (Append-Position), so a
//     retried request can never write the same bytes twice;
//   - it keeps within Azure's 50,000-block limit: a flush is cut into blocks
//     of at most MaxBlockSize; once half the budget is spent, timer flushes
//     of small amounts are held back (up to 16 intervals) until enough data
//     is pending, the threshold rising linearly to MaxBlockSize as the budget
//     runs out; a blob that is full anyway is continued in the next
//     generation blob, whose metadata records the source offset it starts at.
type TrackedSave struct {
	c        blob.Container
	app      blob.Appender
	source   string
	baseName string
	interval time.Duration
	opts     TrackOptions
	log      *slog.Logger

	stopOnce sync.Once
	done     chan struct{} // closed by Stop to end the timer loop
	exited   chan struct{} // closed when the timer loop has ended

	mu sync.Mutex // guards the state below and serialises flushes
	st trackState
}

type trackState struct {
	gen        int
	genStart   int64 // source offset at which the current blob begins
	blobLen    int64 // length of the current blob
	blocks     int   // committed blocks of the current blob
	exists     bool  // the current blob exists
	verify     bool  // the blob predates this tracker: check the source continues it
	rediscover bool  // the blob changed unexpectedly: look it up again
	file       os.FileInfo
	lastAppend time.Time
	halted     error // set when tracking ended on its own (StopOnTruncate)
	stopped    bool
	stopErr    error
	buf        []byte
}

// SaveTracked starts streaming the file at sourcePath to the append blob
// "{taskId}/${kind}/{destRelPath}", flushing every interval (0 means
// DefaultFlushInterval) and once more on Stop. The file need not exist yet.
//
// The blob (and any later generation) is looked up now, so a missing
// container or a SAS without read/list permission fails here. If the blob
// exists it is resumed (see [TrackedSave]). ctx bounds the timer flushes:
// when it is cancelled they stop, but Stop still makes the final flush with
// its own context.
func (t *TaskOutputStorage) SaveTracked(ctx context.Context, kind Kind, sourcePath, destRelPath string, interval time.Duration, opts *TrackOptions) (*TrackedSave, error) {
	name, err := t.s.blobName(kind, destRelPath)
	if err != nil {
		return nil, err
	}
	return startTracked(ctx, t.s.c, sourcePath, name, interval, opts)
}

// SaveTracked streams a growing file to the job-level append blob
// "${kind}/{destRelPath}"; see [TaskOutputStorage.SaveTracked].
func (j *JobOutputStorage) SaveTracked(ctx context.Context, kind Kind, sourcePath, destRelPath string, interval time.Duration, opts *TrackOptions) (*TrackedSave, error) {
	name, err := j.s.blobName(kind, destRelPath)
	if err != nil {
		return nil, err
	}
	return startTracked(ctx, j.s.c, sourcePath, name, interval, opts)
}

func startTracked(ctx context.Context, c blob.Container, source, name string, interval time.Duration, opts *TrackOptions) (*TrackedSave, error) {
	var o TrackOptions
	if opts != nil {
		o = *opts
	}
	if interval <= 0 {
		interval = DefaultFlushInterval
	}
	switch {
	case o.MaxBlockSize <= 0:
		o.MaxBlockSize = DefaultMaxBlockSize
	case o.MaxBlockSize > MaxAppendBlockSize:
		return nil, fmt.Errorf("tracked save of %s: block size %d is above Azure's limit of %d", source, o.MaxBlockSize, MaxAppendBlockSize)
	}
	if o.MaxBlocks <= 0 || o.MaxBlocks > MaxAppendBlobBlocks {
		o.MaxBlocks = MaxAppendBlobBlocks
	}
	app, ok := blob.AsAppender(c)
	if !ok {
		return nil, fmt.Errorf("tracked save of %s: the storage of %s has no append blobs", source, RedactURL(c.String()))
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	t := &TrackedSave{
		c: c, app: app, source: source, baseName: name, interval: interval, opts: o,
		log:  log.With("source", source, "blob", name),
		done: make(chan struct{}), exited: make(chan struct{}),
	}
	if err := t.discover(ctx); err != nil {
		return nil, err
	}
	go t.loop(ctx)
	return t, nil
}

// loop flushes at once and then every interval until Stop or ctx ends.
func (t *TrackedSave) loop(ctx context.Context) {
	defer close(t.exited)
	ticker := time.NewTicker(t.interval)
	defer ticker.Stop()
	for {
		t.timerFlush(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.done:
			return
		case <-ticker.C:
		}
	}
}

// timerFlush flushes unless a flush is already running (then this tick is
// skipped, as in .NET), and reports its error.
func (t *TrackedSave) timerFlush(ctx context.Context) {
	if !t.mu.TryLock() {
		return
	}
	defer t.mu.Unlock()
	if t.st.stopped || t.st.halted != nil {
		return
	}
	if err := t.flushLocked(ctx, false); err != nil {
		if t.opts.OnError != nil {
			t.opts.OnError(err)
		} else {
			t.log.Warn("tracked save: flush failed; retrying at the next flush", "err", err)
		}
	}
}

// Flush uploads what the file holds beyond what is stored, now, ignoring
// the block-budget deferral.
func (t *TrackedSave) Flush(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.st.stopped {
		return ErrTrackerStopped
	}
	if t.st.halted != nil {
		return t.st.halted
	}
	return t.flushLocked(ctx, true)
}

// Stop ends the timer flushes, makes a final flush and returns its error
// (or the error that ended tracking early). Later calls return the same
// result without doing anything.
func (t *TrackedSave) Stop(ctx context.Context) error {
	t.stopOnce.Do(func() { close(t.done) })
	<-t.exited
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.st.stopped {
		return t.st.stopErr
	}
	t.st.stopped = true
	if t.st.halted != nil {
		t.st.stopErr = t.st.halted
	} else {
		t.st.stopErr = t.flushLocked(ctx, true)
	}
	return t.st.stopErr
}

// Status returns a snapshot of the tracker's progress. It waits for a
// running flush to finish.
func (t *TrackedSave) Status() TrackStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	return TrackStatus{BlobName: t.blobName(t.st.gen), Generation: t.st.gen,
		SourceOffset: t.st.genStart + t.st.blobLen, Blocks: t.st.blocks}
}

func (t *TrackedSave) blobName(gen int) string {
	if gen == 0 {
		return t.baseName
	}
	return t.baseName + generationSep + strconv.Itoa(gen)
}

// discover finds the latest generation blob of this tracker's name and
// resumes it. The caller holds mu, or no other goroutine runs yet.
func (t *TrackedSave) discover(ctx context.Context) error {
	gen := -1
	for item, err := range t.c.List(ctx, t.baseName) {
		if err != nil {
			return fmt.Errorf("tracked save of %s: list %s in container %s: %w", t.source, t.baseName, RedactURL(t.c.String()), sanitize(err))
		}
		if g, ok := t.generationOf(item.Name); ok && g > gen {
			gen = g
		}
	}
	st := &t.st
	st.rediscover, st.verify = false, false
	if gen < 0 {
		st.gen, st.genStart, st.blobLen, st.blocks, st.exists = 0, 0, 0, 0, false
		return nil
	}
	st.gen = gen
	props, err := t.c.Stat(ctx, t.blobName(gen))
	if err != nil {
		return fmt.Errorf("tracked save of %s: read %s: %w", t.source, t.blobName(gen), sanitize(err))
	}
	if props.BlobType != blob.AppendBlob {
		return fmt.Errorf("tracked save of %s: blob %s exists and is not an append blob; delete it or track to another name", t.source, t.blobName(gen))
	}
	st.exists = true
	st.blobLen = props.Size
	st.blocks = props.CommittedBlocks
	st.genStart = 0
	for k, v := range props.Metadata {
		if strings.EqualFold(k, sourceOffsetMeta) {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				st.genStart = n
			}
		}
	}
	st.verify = st.blobLen > 0
	t.log.Info("tracked save: resuming stored blob", "generation", gen, "sourceOffset", st.genStart+st.blobLen)
	return nil
}

// generationOf reports the generation number of blob name, if it is one of
// this tracker's blobs.
func (t *TrackedSave) generationOf(name string) (int, bool) {
	if name == t.baseName {
		return 0, true
	}
	rest, ok := strings.CutPrefix(name, t.baseName+generationSep)
	if !ok || rest == "" || rest[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// flushLocked uploads the file beyond the stored offset. force ignores the
// block-budget deferral. The caller holds mu.
func (t *TrackedSave) flushLocked(ctx context.Context, force bool) error {
	st := &t.st
	if st.rediscover {
		if err := t.discover(ctx); err != nil {
			return err
		}
	}
	f, err := os.Open(t.source)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // not written yet, or being rotated: look again next time
	}
	if err != nil {
		return fmt.Errorf("tracked save: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("tracked save: %w", err)
	}
	size := fi.Size()

	// Is the file still the one (and the content) the blob continues?
	switch {
	case st.file != nil && !os.SameFile(st.file, fi):
		if err := t.truncated(ctx, "the file was replaced (rotated)"); err != nil {
			return err
		}
	case st.verify:
		ok, err := t.sourceContinuesBlob(ctx, f, size)
		if err != nil {
			return err
		}
		st.verify = false
		if !ok {
			if err := t.truncated(ctx, "the file does not continue the stored blob (a new file of the same name?)"); err != nil {
				return err
			}
		}
	case size < st.genStart+st.blobLen:
		if err := t.truncated(ctx, fmt.Sprintf("the file shrank from %d to %d bytes", st.genStart+st.blobLen, size)); err != nil {
			return err
		}
	}
	st.file = fi

	if !st.exists {
		if err := t.create(ctx); err != nil {
			return err
		}
	}
	pos := st.genStart + st.blobLen
	pending := size - pos
	if pending <= 0 || (!force && t.deferFlush(pending)) {
		return nil
	}
	for pending > 0 {
		n := min(pending, t.opts.MaxBlockSize)
		if st.blocks >= t.opts.MaxBlocks || st.blobLen+n > maxAppendBlobSize {
			t.log.Info("tracked save: blob is full; continuing in the next generation", "blocks", st.blocks, "generation", st.gen+1)
			t.nextGeneration(pos)
			if err := t.create(ctx); err != nil {
				return err
			}
		}
		if err := t.appendChunk(ctx, f, pos, n); err != nil {
			return err
		}
		pos += n
		pending -= n
	}
	st.lastAppend = time.Now()
	return nil
}

// deferFlush applies the block budget to a timer flush of pending bytes.
func (t *TrackedSave) deferFlush(pending int64) bool {
	half := t.opts.MaxBlocks / 2
	if t.st.blocks < half || time.Since(t.st.lastAppend) >= maxDeferIntervals*t.interval {
		return false
	}
	threshold := t.opts.MaxBlockSize * int64(t.st.blocks-half) / int64(max(half, 1))
	return pending < threshold
}

// truncated applies the truncation policy.
func (t *TrackedSave) truncated(ctx context.Context, why string) error {
	if t.opts.OnTruncate == StopOnTruncate {
		t.st.halted = fmt.Errorf("tracked save of %s to %s: %s: %w", t.source, t.blobName(t.st.gen), why, ErrSourceTruncated)
		t.log.Warn("tracked save: stopping", "reason", why)
		return t.st.halted
	}
	if !t.st.exists || t.st.blobLen == 0 {
		// Nothing stored in this generation yet: start it over.
		t.st.genStart = 0
		return nil
	}
	t.log.Warn("tracked save: starting a new generation blob", "reason", why, "generation", t.st.gen+1)
	t.nextGeneration(0)
	return t.create(ctx)
}

func (t *TrackedSave) nextGeneration(start int64) {
	st := &t.st
	st.gen++
	st.genStart, st.blobLen, st.blocks, st.exists, st.verify = start, 0, 0, false, false
}

// create creates the current generation's blob, never replacing one.
func (t *TrackedSave) create(ctx context.Context) error {
	opts := blob.PutOptions{
		Metadata:    map[string]string{sourceOffsetMeta: strconv.FormatInt(t.st.genStart, 10)},
		ContentType: contentTypeOf(t.baseName),
	}
	err := t.app.CreateAppend(ctx, t.blobName(t.st.gen), opts)
	if err != nil {
		if blob.KindOf(err) == blob.Conflict {
			t.st.rediscover = true
		}
		return fmt.Errorf("tracked save of %s: create %s: %w", t.source, t.blobName(t.st.gen), sanitize(err))
	}
	t.st.exists = true
	return nil
}

// appendChunk appends source bytes [pos, pos+n) at the blob's current end,
// on condition that the blob still has that length.
func (t *TrackedSave) appendChunk(ctx context.Context, f *os.File, pos, n int64) error {
	st := &t.st
	if int64(cap(st.buf)) < n {
		st.buf = make([]byte, n)
	}
	buf := st.buf[:n]
	if _, err := f.ReadAt(buf, pos); err != nil {
		return fmt.Errorf("tracked save: read %s at %d: %w", t.source, pos, err)
	}
	name := t.blobName(st.gen)
	err := t.app.AppendAt(ctx, name, st.blobLen, buf)
	if hasCode(err, "AppendPositionConditionNotMet") {
		// A retried request whose first attempt had landed, or another
		// writer. Only the first is safe to accept.
		props, perr := t.c.Stat(ctx, name)
		if perr == nil && props.Size == st.blobLen+n {
			st.blobLen += n
			st.blocks = max(props.CommittedBlocks, st.blocks+1)
			return nil
		}
		st.rediscover = true
		return fmt.Errorf("tracked save of %s: %s changed under the tracker (another writer?); will re-read it: %w", t.source, name, sanitize(err))
	}
	if hasCode(err, "BlockCountExceedsLimit") {
		st.blocks = t.opts.MaxBlocks // roll over at the next attempt
	}
	if err != nil {
		return fmt.Errorf("tracked save of %s: append %d bytes to %s: %w", t.source, n, name, sanitize(err))
	}
	st.blobLen += n
	st.blocks++
	return nil
}

// hasCode reports whether err is a storage error with the service error
// code code.
func hasCode(err error, code string) bool {
	var be *blob.Error
	return errors.As(err, &be) && be.Code == code
}

// sourceContinuesBlob reports whether the file's bytes just before the
// stored offset equal the blob's last bytes, i.e. the blob is a prefix of
// this file and appending from its length is right.
func (t *TrackedSave) sourceContinuesBlob(ctx context.Context, f *os.File, size int64) (bool, error) {
	st := &t.st
	end := st.genStart + st.blobLen
	if size < end {
		return false, nil
	}
	k := min(st.blobLen, verifyBytes)
	if k == 0 {
		return true, nil
	}
	local := make([]byte, k)
	if _, err := f.ReadAt(local, end-k); err != nil {
		return false, fmt.Errorf("tracked save: read %s: %w", t.source, err)
	}
	rc, _, err := t.c.GetRange(ctx, t.blobName(st.gen), st.blobLen-k, k)
	if err != nil {
		return false, fmt.Errorf("tracked save of %s: read the end of %s: %w", t.source, t.blobName(st.gen), sanitize(err))
	}
	defer rc.Close()
	remote, err := io.ReadAll(rc)
	if err != nil {
		return false, fmt.Errorf("tracked save of %s: read the end of %s: %w", t.source, t.blobName(st.gen), sanitize(err))
	}
	return bytes.Equal(local, remote), nil
}

// TrackBlob streams the growing file at sourcePath to the append blob
// blobName of c, as SaveTracked does but with any blob name (not the
// conventions' layout): the agent's OPENBATCH_STREAM_OUTPUTS uses it to
// stream files to the names their outputFiles entries give them. c must
// support append blobs (blob.AsAppender).
func TrackBlob(ctx context.Context, c blob.Container, sourcePath, blobName string, interval time.Duration, opts *TrackOptions) (*TrackedSave, error) {
	if blobName == "" {
		return nil, fmt.Errorf("tracked save of %s: empty blob name", sourcePath)
	}
	return startTracked(ctx, c, sourcePath, blobName, interval, opts)
}

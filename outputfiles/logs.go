package outputfiles

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/openbatch/openbatch/blob"
)

// Names of the diagnostics files written in the task directory.
const (
	OutLogName = "fileuploadout.txt"
	ErrLogName = "fileuploaderr.txt"
)

// uploadLog writes fileuploadout.txt (timestamped lines) and
// fileuploaderr.txt (one JSON object per failure). Both are appended to, so a
// retried task keeps the history of earlier runs. Every line passes through
// blob.RedactText.
type uploadLog struct {
	mu       sync.Mutex
	out, err *os.File
	outW     *bufio.Writer
	errW     *bufio.Writer
	now      func() time.Time
}

func openUploadLog(taskDir string, now func() time.Time) (*uploadLog, error) {
	open := func(name string) (*os.File, error) {
		f, err := os.OpenFile(filepath.Join(taskDir, name), os.O_WRONLY|os.O_CREATE|os.O_APPEND|oNoFollow, 0o644)
		if err != nil {
			return nil, fmt.Errorf("outputfiles: open %s: %w", name, err)
		}
		return f, nil
	}
	out, err := open(OutLogName)
	if err != nil {
		return nil, err
	}
	ef, err := open(ErrLogName)
	if err != nil {
		out.Close()
		return nil, err
	}
	return &uploadLog{out: out, err: ef, outW: bufio.NewWriter(out), errW: bufio.NewWriter(ef), now: now}, nil
}

// Printf writes one timestamped line to fileuploadout.txt.
func (l *uploadLog) Printf(level, format string, args ...any) {
	line := blob.RedactText(fmt.Sprintf(format, args...))
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.outW, "%s %-5s %s\n", l.now().UTC().Format("2006-01-02T15:04:05.000Z"), level, line)
}

// errRecord is a fileuploaderr.txt line, with Azure's keys.
type errRecord struct {
	Code        string `json:"code"`
	UserError   bool   `json:"user_error"`
	Pattern     string `json:"pattern"`
	File        string `json:"file"`
	Destination string `json:"destination"`
}

// Failure writes one JSON line to fileuploaderr.txt.
func (l *uploadLog) Failure(r errRecord) {
	r.Destination = blob.Redact(r.Destination)
	b, _ := json.Marshal(r)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errW.Write([]byte(blob.RedactText(string(b))))
	l.errW.WriteByte('\n')
}

// Close flushes and closes both files.
func (l *uploadLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first error
	for _, e := range []error{l.outW.Flush(), l.errW.Flush(), l.out.Close(), l.err.Close()} {
		if e != nil && first == nil {
			first = e
		}
	}
	return first
}

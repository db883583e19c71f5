package app

import (
	"context"
	"fmt"
	"net"

	"github.com/openbatch/openbatch/blob/azure"
	"github.com/openbatch/openbatch/internal/console"
	"github.com/openbatch/openbatch/internal/entra"
	"github.com/openbatch/openbatch/outputfiles"
)

// newConsole builds the web console served on the API listener: it reads
// through the service, task files through the file router and output
// blobs through the output engine's opener (Azure and file:// URLs, with
// each task's own destination credentials). It is open without sign-in only
// when cfg.ConsoleOpen is set and the listener is a loopback address; it
// sets s.ConsoleOpen to say which.
func newConsole(cfg Config, s *Server, files *fileRouter, key []byte, bearer *entra.Verifier, ln net.Listener) (*console.Console, error) {
	v, err := azure.ServiceVersionFromEnv()
	if err != nil {
		return nil, err
	}
	op, err := outputfiles.NewOpener(azure.Options{Logger: cfg.Log, ServiceVersion: v})
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	s.ConsoleOpen = cfg.ConsoleOpen && loopback(ln.Addr())
	if cfg.ConsoleOpen && !s.ConsoleOpen {
		cfg.Log.Info("the web console asks for sign-in: the listener is not a loopback address", "listen", ln.Addr().String())
	}
	cc := console.Config{Service: s.Service, Files: consoleFiles{files}, Blobs: op, Open: s.ConsoleOpen,
		AccountName: cfg.AccountName, AccountKey: key, Log: cfg.Log}
	if bearer != nil {
		cc.Bearer = bearer
	}
	return console.New(cc), nil
}

// loopback reports whether addr is a loopback TCP address.
func loopback(addr net.Addr) bool {
	ta, ok := addr.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// consoleFiles gives the console the file router's task directories.
type consoleFiles struct{ f *fileRouter }

// TaskDir implements console.Files.
func (c consoleFiles) TaskDir(ctx context.Context, jobID, taskID string) (console.Dir, error) {
	d, err := c.f.TaskDir(ctx, jobID, taskID)
	if err != nil {
		return nil, err
	}
	return d, nil
}

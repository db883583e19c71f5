package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// JoinTokenFileName is the file in the data directory that holds the node
// join token, readable by the server's user only.
const JoinTokenFileName = "join-token"

// WriteJoinTokenFile writes the node join token to DataDir/join-token with
// mode 0600 (replacing an older one) and returns its path, so that the
// token can be handed to nodes without ever being printed.
func (s *Server) WriteJoinTokenFile() (string, error) {
	path := filepath.Join(s.Config.DataDir, JoinTokenFileName)
	if err := writeSecretFile(path, s.JoinToken); err != nil {
		return "", fmt.Errorf("write the node join token file: %w", err)
	}
	return path, nil
}

// writeSecretFile writes secret to path, readable by its owner only,
// atomically (a reader never sees half of it, nor a moment when the file
// is readable by others).
func writeSecretFile(path, secret string) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(secret + "\n")
	err = errors.Join(err, f.Close())
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// createPrivateFile makes sure path exists and is readable by its owner
// only (mode 0600), creating it empty if missing. The database is created
// this way before SQLite opens it, so it never exists readable by others;
// SQLite gives its -wal and -shm files the database file's mode.
func createPrivateFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chmod(path, 0o600)
}

package main

import (
	"fmt"
	"os"
	"strings"
)

// readSecretFile reads a secret (join token, account key) from path,
// refusing a file that users other than its owner may read or write: a
// secret in such a file is already disclosed. Surrounding white space (a
// trailing newline) is dropped.
func readSecretFile(what, path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%s file: %w", what, err)
	}
	if fi.IsDir() {
		return "", fmt.Errorf("%s file %s is a directory", what, path)
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return "", fmt.Errorf("%s file %s can be read or written by other users (mode %04o): run `chmod 600 %s`", what, path, m, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s file: %w", what, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s file %s is empty", what, path)
	}
	return s, nil
}

// errSecretOnCommandLine explains why a secret flag is not accepted: every
// local user (and every task) can read a process's command line in
// /proc/PID/cmdline.
func errSecretOnCommandLine(flag, fileFlag, env string) error {
	return fmt.Errorf("%s is not accepted on the command line, where every local user and task can read it (/proc/PID/cmdline): "+
		"put it in a file only you can read (chmod 600) and pass %s, or set %s", flag, fileFlag, env)
}

package nodeproto

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// CredentialPrefix starts every node credential, so that one is told from a
// join token at a glance (and by the redactor).
const CredentialPrefix = "obn1."

// NodeCredential derives the credential of one node: an HMAC of the pool,
// the node ID and the credential's generation under the account key. Any
// server holding the key checks it against the generation in the node's
// record, so servers sharing a database need no shared secret store; bumping
// the generation revokes the old credential; rotating the key revokes all.
func NodeCredential(accountKey []byte, poolID, nodeID string, gen int64) string {
	m := hmac.New(sha256.New, accountKey)
	m.Write([]byte("openbatch node credential v1\x00" + strings.ToLower(poolID) + "\x00" + nodeID + "\x00" + strconv.FormatInt(gen, 10)))
	return CredentialPrefix + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckCredential reports whether cred is node's credential of generation
// gen, in constant time.
func CheckCredential(accountKey []byte, poolID, nodeID string, gen int64, cred string) bool {
	want := NodeCredential(accountKey, poolID, nodeID, gen)
	return hmac.Equal([]byte(want), []byte(cred))
}

// ErrBadNodeID and ErrBadAddress are what ValidNodeID and ValidAddress
// return.
var (
	ErrBadNodeID  = errors.New("invalid node ID")
	ErrBadAddress = errors.New("invalid node address")
)

// MaxNodeIDLength bounds a node ID (Azure's are 40-odd characters).
const MaxNodeIDLength = 64

// ValidNodeID checks a node ID a machine asks to join with: 1 to 64
// letters, digits, hyphens and underscores, as Azure's node IDs are; no
// separators, dots or control characters, since the ID names directories
// and URL path segments.
func ValidNodeID(id string) error {
	if id == "" || len(id) > MaxNodeIDLength {
		return fmt.Errorf("%w: %q must have 1 to %d characters", ErrBadNodeID, id, MaxNodeIDLength)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("%w: %q may hold only letters, digits, hyphens and underscores", ErrBadNodeID, id)
		}
	}
	return nil
}

// metadataHosts are cloud instance-metadata endpoints that are not
// link-local by address.
var metadataHosts = map[string]bool{"fd00:ec2::254": true, "metadata.google.internal": true, "metadata": true}

// ValidAddress checks the base URL of a node's file service: http or https,
// a host, nothing else (no user info, query or fragment). Unless
// allowLinkLocal, link-local addresses (169.254.0.0/16, fe80::/10) and
// cloud metadata endpoints are refused: the server sends requests there,
// and they are where a cloud's instance credentials live. Host names are not
// resolved here; the policy is stated in docs/security.md.
func ValidAddress(addr string, allowLinkLocal bool) error {
	if addr == "" {
		return nil // in-process node: no file service
	}
	u, err := url.Parse(addr)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadAddress, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: %q must be an http or https URL", ErrBadAddress, addr)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("%w: %q must be scheme://host[:port][/path] and nothing else", ErrBadAddress, addr)
	}
	host := strings.ToLower(u.Hostname())
	if allowLinkLocal {
		return nil
	}
	if metadataHosts[host] {
		return fmt.Errorf("%w: %q is a cloud metadata endpoint", ErrBadAddress, addr)
	}
	if ip := net.ParseIP(host); ip != nil && (ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast()) {
		return fmt.Errorf("%w: %q is link-local (where cloud instance metadata lives)", ErrBadAddress, addr)
	}
	return nil
}

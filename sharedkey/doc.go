// Package sharedkey signs and verifies Azure Batch Shared Key requests.
//
// A Batch Shared Key signature is an HMAC-SHA256, keyed with the
// base64-decoded account key, over a canonical "string to sign" built from
// the request:
//
//	VERB\n
//	Content-Encoding\n Content-Language\n Content-Length\n Content-MD5\n
//	Content-Type\n Date\n If-Modified-Since\n If-Match\n If-None-Match\n
//	If-Unmodified-Since\n Range\n
//	ocp-name:value\n ...                 (every ocp-* header, lowercased, sorted)
//	/account/escaped/path                (the path exactly as sent on the wire)
//	\nname:decoded-value ...             (every query parameter: name lowercased,
//	                                      sorted by name; repeated names give one
//	                                      line of sorted, comma-joined values)
//
// and it travels as "Authorization: SharedKey account:base64(signature)".
// The client and the server use the same code: [Credential.Sign] produces the
// canonical form above, and [Credential.Verify] recomputes it from the raw
// request.
//
// The official clients do not agree on every detail, so Verify first checks
// the canonical form and, only if that does not match, the known client
// variants (see [Credential.Verify]). Verification allocates little and its
// failures are [*Error] values that carry the HTTP status and Batch error
// code to send back; their messages say what to fix and never contain the
// key, the expected signature or the computed string to sign.
package sharedkey

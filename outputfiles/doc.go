// Package outputfiles is openbatch's output-file persistence engine: after a
// task's process exits, it turns the task's outputFiles into uploads
// (planning: pattern → files → blob names, pure apart from reading the file
// system through an fs.FS), executes them with bounded parallelism and
// retries through package blob, writes fileuploadout.txt and
// fileuploaderr.txt in the task directory, and maps failures to Batch
// failure codes. It is usable as a library on its own, e.g. from inside a
// task.
//
// The semantics follow Azure Batch (see docs/compatibility.md); where Azure
// leaves a case open, openbatch decides as follows:
//
//   - Patterns are relative to the working directory (so "../std*.txt" is
//     the task directory); "$VAR" and "${VAR}" are expanded from the task's
//     environment first. An unset variable is left as written (and logged),
//     so "$TYPO/x" cannot become "/x".
//   - Wildcards: '*', '?', "[abc]", "[a-c]", "[!abc]" (also "[^abc]") within a
//     segment, "**" for any number of directories. There are no escapes and
//     no braces; "[*]" matches a literal '*'. A name starting with '.' is
//     matched only by a segment that starts with '.', and "**" never enters
//     dot-directories. (bmatcuk/doublestar was not used: its brace
//     alternatives and backslash escapes differ from Batch's syntax, and its
//     dot-file handling does not follow Batch's rule.)
//   - Only regular files are uploaded; directories never are. Symbolic links
//     to regular files are followed if they are relative and stay inside the
//     root; "**" does not follow symlinked directories (no cycles). All
//     reads go through os.Root, so no symlink can lead outside the root; as
//     os.Root does, absolute symlinks are not followed (they are logged as
//     not uploaded).
//   - Roots: a pattern must resolve inside the task directory, or inside an
//     extra root the agent configures (Options.ExtraRoots; "/" restores
//     Azure's "any absolute path"). Otherwise the entry fails with
//     FileUploadMiscError, category usererror, and a message saying why.
//   - Zero matches is success, logged in fileuploadout.txt.
//   - Blob names: with no wildcard, destination.path is the full blob name
//     (default: the file's name; a path ending in "/" is a virtual
//     directory, an extension); with a wildcard, path is a virtual directory
//     and files keep their path relative to the pattern's non-wildcard base.
//     "\" in path is read as "/".
//   - Conflicts: when several files map to the same blob of the same
//     container, the later entry in the list wins; the earlier mapping is
//     not uploaded and is logged as superseded. No two uploads ever race
//     for one blob.
//   - Entries are independent: a failure in one (refused pattern, missing
//     container) does not stop the others; every planned file is attempted.
//     The task's failureInfo describes the first failure in entry order.
//   - A file is uploaded as it is when its upload starts: its size is taken
//     then, and exactly that many bytes are read once, sequentially, and
//     hashed; bytes appended later are not uploaded, and a file that shrinks
//     fails with FileUploadMiscError. The blob's Content-MD5 is always the MD5
//     of the bytes stored.
//   - Parallelism: up to 32 files at once (Options.SmallParallelism), of
//     which at most 8 larger than 1 MiB (Options.Parallelism), as a small
//     file's upload is one request whose time is mostly latency while a
//     large file already sends several blocks at once. Within a large file
//     (blob/azure) the blocks are read once, hashed in order on one
//     goroutine and sent in parallel, so it costs about the larger of its
//     MD5 and its transfer, not their sum.
//   - Secrets: SAS signatures are redacted (Redact) in every log line,
//     error and failure detail.
package outputfiles

package conventions

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/openbatch/openbatch/api"
)

// TaskOutputFiles returns Batch outputFiles entries that make the Batch
// service (openbatch's or Azure's) upload the files matching patterns to
// "{taskID}/${kind}/…" in the job container at containerSASURL (a SAS URL
// with write permission, see [ContainerSASURL]), so the outputs follow the
// conventions with no code inside the task. The upload condition is
// tasksuccess, as in the Azure documentation's example; change
// UploadOptions on the result for other needs.
//
// Where a file lands, with openbatch's (and Azure's) outputFiles semantics:
//   - a relative pattern keeps its path, as [TaskOutputStorage.Save] does:
//     "out/result.txt" → "{taskID}/$TaskOutput/out/result.txt", and
//     "out/**/*.csv" puts out/a/b.csv at "{taskID}/$TaskOutput/out/a/b.csv";
//     leading "../" are stripped ("../std*.txt" → "stdout.txt");
//   - an absolute pattern, or one whose fixed part uses an environment
//     variable ("$AZ_BATCH_TASK_DIR/x.log"), cannot be mapped at build time:
//     files keep only the part below the pattern's fixed directory (or, with
//     no wildcard, their base name).
//
// A pattern whose ".." would climb out of the kind's folder is an error.
func TaskOutputFiles(containerSASURL, taskID string, kind Kind, patterns ...string) ([]api.OutputFile, error) {
	prefix, err := TaskPrefix(taskID, kind)
	if err != nil {
		return nil, err
	}
	return outputFiles(containerSASURL, prefix, api.UploadOnSuccess, patterns)
}

// TaskLogFiles returns the outputFiles entry that uploads a task's stdout.txt
// and stderr.txt (the pattern "../std*.txt", relative to the working
// directory) to "{taskID}/$TaskLog/stdout.txt" and ".../stderr.txt" whatever
// the task's outcome (taskcompletion), which is where the Azure portal looks
// for saved logs.
func TaskLogFiles(containerSASURL, taskID string) ([]api.OutputFile, error) {
	files, err := TaskOutputFiles(containerSASURL, taskID, TaskLog, "../std*.txt")
	for i := range files {
		files[i].UploadOptions.UploadCondition = api.UploadOnCompletion
	}
	return files, err
}

// JobOutputFiles returns outputFiles entries that upload the files matching
// patterns to the job-level folder "${kind}/…" (kind is usually JobOutput or
// JobPreview), for a task that produces the job's result. Paths map as in
// [TaskOutputFiles]; the condition is tasksuccess.
func JobOutputFiles(containerSASURL string, kind Kind, patterns ...string) ([]api.OutputFile, error) {
	prefix, err := JobPrefix(kind)
	if err != nil {
		return nil, err
	}
	return outputFiles(containerSASURL, prefix, api.UploadOnSuccess, patterns)
}

func outputFiles(containerSASURL, prefix string, cond api.OutputFileUploadCondition, patterns []string) ([]api.OutputFile, error) {
	if u, err := url.Parse(containerSASURL); err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("container URL %q is not an absolute URL", RedactURL(containerSASURL))
	}
	if len(patterns) == 0 {
		return nil, fmt.Errorf("no file patterns given for %s", prefix)
	}
	files := make([]api.OutputFile, 0, len(patterns))
	for _, p := range patterns {
		dest, err := destinationPath(prefix, p)
		if err != nil {
			return nil, err
		}
		files = append(files, api.OutputFile{
			FilePattern: p,
			Destination: api.OutputFileDestination{Container: &api.OutputFileBlobContainerDestination{
				Path: dest, ContainerURL: containerSASURL,
			}},
			UploadOptions: api.OutputFileUploadOptions{UploadCondition: cond},
		})
	}
	return files, nil
}

// destinationPath computes the outputFiles destination path for pattern
// under prefix. With a wildcard, the path is a virtual directory and files
// keep their path below the pattern's fixed base, so the base is put into
// the path; without one, the path is the whole blob name.
func destinationPath(prefix, pattern string) (string, error) {
	if pattern == "" {
		return "", fmt.Errorf("%w: empty file pattern", ErrInvalidPath)
	}
	p := strings.ReplaceAll(pattern, `\`, "/")
	segs := strings.Split(p, "/")
	wild := -1
	for i, s := range segs {
		if strings.ContainsAny(s, "*?[") {
			wild = i
			break
		}
	}
	fixed := segs
	if wild >= 0 {
		fixed = segs[:wild]
	}
	base := strings.Join(fixed, "/")
	unmappable := strings.HasPrefix(p, "/") || hasDriveLetter(p) || strings.ContainsAny(base, "$%")

	if wild < 0 { // no wildcard: the path is the blob name
		rel := p
		if unmappable {
			rel = segs[len(segs)-1]
		}
		name, err := joinBlobName(prefix, rel)
		if err != nil {
			return "", fmt.Errorf("file pattern %q: %w", pattern, err)
		}
		return name, nil
	}
	if unmappable {
		return prefix, nil
	}
	rel, err := normalize(base)
	switch {
	case err != nil:
		return "", fmt.Errorf("file pattern %q: %w", pattern, err)
	case rel == "": // only "../" or "./" before the wildcard: nothing to keep
		return prefix, nil
	}
	return prefix + "/" + rel, nil
}

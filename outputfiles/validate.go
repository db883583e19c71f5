package outputfiles

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/blob"
)

// maxBlobName is the service's limit on a blob name's length.
const maxBlobName = 1024

// Validate checks outputFiles as the task-add operation must, returning the
// first problem as an *api.PropertyError naming the property (e.g.
// "outputFiles[1].destination.container.containerUrl"). It checks: a
// non-empty filePattern with well-formed character classes and no trailing
// "/"; a destination container with an absolute http, https or file URL
// (file URLs with an absolute path); a path of at most 1024 characters; an
// identityReference with a resourceId; a known uploadCondition (any letter
// case); and supported uploadHeaders. Values in errors are redacted: a SAS
// signature never appears.
func Validate(files []api.OutputFile) error {
	for i, f := range files {
		if err := validateOne(fmt.Sprintf("outputFiles[%d]", i), f); err != nil {
			return err
		}
	}
	return nil
}

func validateOne(prop string, f api.OutputFile) error {
	if strings.TrimSpace(f.FilePattern) == "" {
		return api.Missing(prop + ".filePattern")
	}
	if strings.HasSuffix(f.FilePattern, "/") {
		return api.Invalid(prop+".filePattern", f.FilePattern,
			"The file pattern names a directory; directories are not uploaded. Use dir/** to upload the files below it.")
	}
	for _, seg := range strings.Split(f.FilePattern, "/") {
		if err := checkSegment(seg); err != nil {
			return api.Invalid(prop+".filePattern", f.FilePattern, "The file pattern is malformed: "+err.Error()+".")
		}
	}
	c := f.Destination.Container
	if c == nil {
		return api.Missing(prop + ".destination.container")
	}
	cprop := prop + ".destination.container"
	if c.ContainerURL == "" {
		return api.Missing(cprop + ".containerUrl")
	}
	if err := checkContainerURL(c.ContainerURL); err != nil {
		return api.Invalid(cprop+".containerUrl", blob.Redact(c.ContainerURL), err.Error())
	}
	if len(c.Path) > maxBlobName {
		return api.Invalid(cprop+".path", c.Path[:64]+"…", fmt.Sprintf("The path is longer than %d characters, the limit for a blob name.", maxBlobName))
	}
	if c.IdentityReference != nil && strings.TrimSpace(c.IdentityReference.ResourceID) == "" {
		return api.Missing(cprop + ".identityReference.resourceId")
	}
	if _, err := PutOptions(c.UploadHeaders); err != nil {
		var he *HeaderError
		if errors.As(err, &he) {
			hp := fmt.Sprintf("%s.uploadHeaders[%d].%s", cprop, he.Index, he.Field)
			if he.Field == "name" && he.Name == "" {
				return api.Missing(hp)
			}
			val := he.Name
			if he.Field == "value" {
				val = he.Value
			}
			return api.Invalid(hp, val, "The upload header "+fmt.Sprintf("%q", he.Name)+" cannot be used: "+he.Reason+".")
		}
		return api.Invalid(cprop+".uploadHeaders", "", err.Error())
	}
	cond := f.UploadOptions.UploadCondition
	if cond == "" {
		return api.Missing(prop + ".uploadOptions.uploadCondition")
	}
	if !api.OutputFileUploadCondition(strings.ToLower(string(cond))).Valid() {
		return api.Invalid(prop+".uploadOptions.uploadCondition", string(cond),
			"The upload condition must be tasksuccess, taskfailure or taskcompletion.")
	}
	return nil
}

// checkContainerURL accepts absolute http(s) URLs with a host and a
// container path, and file:///abs/dir URLs.
func checkContainerURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return errors.New("The container URL must be an absolute URL, e.g. https://account.blob.core.windows.net/container?sas.")
	}
	switch strings.ToLower(u.Scheme) {
	case "https", "http":
		if u.Host == "" || strings.Trim(u.Path, "/") == "" {
			return errors.New("The container URL must name a storage host and a container, e.g. https://account.blob.core.windows.net/container?sas.")
		}
	case "file":
		if (u.Host != "" && u.Host != "localhost") || !path.IsAbs(u.Path) {
			return errors.New("A file container URL must hold an absolute directory, e.g. file:///data/outputs.")
		}
	default:
		return fmt.Errorf("The container URL scheme %q is not supported; use https, http or file.", u.Scheme)
	}
	return nil
}

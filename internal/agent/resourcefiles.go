package agent

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/openbatch/openbatch/api"
)

// DefaultResourceFileMode is the mode of a downloaded resource file whose
// fileMode is not set (reference §3.2: "default 0770").
const DefaultResourceFileMode os.FileMode = 0o770

// ValidateResourceFiles checks resource files as the task-add path must:
// exactly one of autoStorageContainerName, storageContainerUrl and httpUrl;
// URLs absolute http(s); filePath required with httpUrl and naming a file;
// blobPrefix only with the container forms; filePath relative and not
// escaping the working directory; fileMode an octal permission such as
// "0644". The error is an *api.PropertyError naming
// "resourceFiles[i].<property>"; values never include a SAS signature.
func ValidateResourceFiles(files []api.ResourceFile) error {
	return ValidateResourceFilesAt("resourceFiles", files)
}

// ValidateResourceFilesAt is ValidateResourceFiles for a list found at
// another JSON path, e.g. "multiInstanceSettings.commonResourceFiles" or
// "jobPreparationTask.resourceFiles".
func ValidateResourceFilesAt(property string, files []api.ResourceFile) error {
	for i, rf := range files {
		if err := validateResourceFile(fmt.Sprintf("%s[%d]", property, i), rf); err != nil {
			return err
		}
	}
	return nil
}

func validateResourceFile(p string, rf api.ResourceFile) *api.PropertyError {
	n := 0
	for _, s := range []string{rf.AutoStorageContainerName, rf.StorageContainerURL, rf.HTTPURL} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return api.Invalid(p, "", "Exactly one of autoStorageContainerName, storageContainerUrl and httpUrl must be specified.")
	}
	switch {
	case rf.HTTPURL != "":
		if err := checkURL(p+".httpUrl", rf.HTTPURL); err != nil {
			return err
		}
		if rf.BlobPrefix != "" {
			return api.Invalid(p+".blobPrefix", rf.BlobPrefix, "blobPrefix is only valid with autoStorageContainerName or storageContainerUrl.")
		}
		if rf.FilePath == "" {
			return api.Missing(p + ".filePath")
		}
	case rf.StorageContainerURL != "":
		if err := checkURL(p+".storageContainerUrl", rf.StorageContainerURL); err != nil {
			return err
		}
	case rf.AutoStorageContainerName != "":
		if !validContainerName(rf.AutoStorageContainerName) {
			return api.Invalid(p+".autoStorageContainerName", rf.AutoStorageContainerName,
				"A container name has 3 to 63 lowercase letters, digits and single hyphens, starting with a letter or digit.")
		}
	}
	if rf.FilePath != "" {
		if _, err := cleanFilePath(rf.FilePath, rf.HTTPURL != ""); err != nil {
			return api.Invalid(p+".filePath", rf.FilePath, err.Error())
		}
	}
	if rf.FileMode != "" {
		if _, err := parseFileMode(rf.FileMode); err != nil {
			return api.Invalid(p+".fileMode", rf.FileMode, err.Error())
		}
	}
	return nil
}

func checkURL(p, raw string) *api.PropertyError {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return api.Invalid(p, redactURL(raw), "The value must be an absolute http or https URL.")
	}
	return nil
}

// cleanFilePath returns filePath as a clean, relative, slash-separated path
// inside the working directory ("." for the directory itself). A file
// (httpUrl) must not be the working directory itself nor end with "/".
func cleanFilePath(fp string, isFile bool) (string, error) {
	if strings.ContainsRune(fp, 0) {
		return "", fmt.Errorf("filePath must not contain NUL characters")
	}
	if path.IsAbs(fp) {
		return "", fmt.Errorf("filePath must be relative to the task working directory")
	}
	c := path.Clean(fp)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("filePath must not point outside the task working directory")
	}
	if isFile && (c == "." || strings.HasSuffix(fp, "/")) {
		return "", fmt.Errorf("filePath must name a file, including its file name, when httpUrl is used")
	}
	return c, nil
}

// parseFileMode parses an octal permission string ("0644", "755", "0o700").
func parseFileMode(s string) (os.FileMode, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
	if t == "" || len(t) > 4 {
		return 0, fmt.Errorf("fileMode must be an octal permission such as 0644 or 0770")
	}
	v, err := strconv.ParseUint(t, 8, 32)
	if err != nil || v > 0o777 {
		return 0, fmt.Errorf("fileMode must be an octal permission between 0000 and 0777, such as 0644")
	}
	return os.FileMode(v), nil
}

func validContainerName(s string) bool {
	if s == "$root" {
		return true
	}
	if len(s) < 3 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

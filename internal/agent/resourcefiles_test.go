package agent

import (
	"errors"
	"strings"
	"testing"

	"github.com/openbatch/openbatch/api"
)

func TestValidateResourceFiles(t *testing.T) {
	const sas = "https://a.blob.core.windows.net/c/b.txt?sv=2021&sig=SECRET"
	cases := []struct {
		name string
		rf   api.ResourceFile
		prop string // "" = valid
		code string
	}{
		{"http ok", api.ResourceFile{HTTPURL: sas, FilePath: "in/b.txt", FileMode: "0644"}, "", ""},
		{"container ok", api.ResourceFile{StorageContainerURL: "https://a.blob.core.windows.net/c?sig=x", BlobPrefix: "data/"}, "", ""},
		{"auto ok", api.ResourceFile{AutoStorageContainerName: "inputs", FilePath: "in"}, "", ""},
		{"mode 3 digits", api.ResourceFile{HTTPURL: sas, FilePath: "f", FileMode: "755"}, "", ""},
		{"inner dotdot ok", api.ResourceFile{HTTPURL: sas, FilePath: "a/../b"}, "", ""},
		{"none", api.ResourceFile{FilePath: "x"}, "resourceFiles[0]", api.CodeInvalidPropertyValue},
		{"two", api.ResourceFile{HTTPURL: sas, AutoStorageContainerName: "abc", FilePath: "x"}, "resourceFiles[0]", api.CodeInvalidPropertyValue},
		{"http no filePath", api.ResourceFile{HTTPURL: sas}, "resourceFiles[0].filePath", api.CodeMissingRequiredProperty},
		{"http prefix", api.ResourceFile{HTTPURL: sas, FilePath: "f", BlobPrefix: "p"}, "resourceFiles[0].blobPrefix", api.CodeInvalidPropertyValue},
		{"http dir path", api.ResourceFile{HTTPURL: sas, FilePath: "dir/"}, "resourceFiles[0].filePath", api.CodeInvalidPropertyValue},
		{"http dot path", api.ResourceFile{HTTPURL: sas, FilePath: "."}, "resourceFiles[0].filePath", api.CodeInvalidPropertyValue},
		{"escape", api.ResourceFile{HTTPURL: sas, FilePath: "../x"}, "resourceFiles[0].filePath", api.CodeInvalidPropertyValue},
		{"escape deep", api.ResourceFile{StorageContainerURL: sas, FilePath: "a/../../x"}, "resourceFiles[0].filePath", api.CodeInvalidPropertyValue},
		{"absolute", api.ResourceFile{HTTPURL: sas, FilePath: "/etc/passwd"}, "resourceFiles[0].filePath", api.CodeInvalidPropertyValue},
		{"bad url", api.ResourceFile{HTTPURL: "ftp://x/y?sig=SECRET", FilePath: "f"}, "resourceFiles[0].httpUrl", api.CodeInvalidPropertyValue},
		{"relative url", api.ResourceFile{StorageContainerURL: "/c"}, "resourceFiles[0].storageContainerUrl", api.CodeInvalidPropertyValue},
		{"bad container name", api.ResourceFile{AutoStorageContainerName: "Bad_Name"}, "resourceFiles[0].autoStorageContainerName", api.CodeInvalidPropertyValue},
		{"mode not octal", api.ResourceFile{HTTPURL: sas, FilePath: "f", FileMode: "0899"}, "resourceFiles[0].fileMode", api.CodeInvalidPropertyValue},
		{"mode too big", api.ResourceFile{HTTPURL: sas, FilePath: "f", FileMode: "7777"}, "resourceFiles[0].fileMode", api.CodeInvalidPropertyValue},
		{"mode text", api.ResourceFile{HTTPURL: sas, FilePath: "f", FileMode: "rwx"}, "resourceFiles[0].fileMode", api.CodeInvalidPropertyValue},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateResourceFiles([]api.ResourceFile{tc.rf})
			if tc.prop == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var pe *api.PropertyError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want *api.PropertyError", err)
			}
			if pe.Property != tc.prop || pe.Code != tc.code {
				t.Errorf("got %s %s, want %s %s", pe.Code, pe.Property, tc.code, tc.prop)
			}
			if strings.Contains(pe.Error(), "SECRET") {
				t.Errorf("error leaks the SAS signature: %v", pe)
			}
		})
	}
	err := ValidateResourceFiles([]api.ResourceFile{{HTTPURL: sas, FilePath: "ok"}, {HTTPURL: sas}})
	var pe *api.PropertyError
	if !errors.As(err, &pe) || pe.Property != "resourceFiles[1].filePath" {
		t.Errorf("second entry: %v", err)
	}
}

package outputfiles

import (
	"errors"
	"os"
	"time"

	"github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/outputfiles/journal"
)

// fileJournal is the blob.Journal of one file's upload: the backend's
// UploadState together with the size and modification time the file had
// when the upload began. A state saved for a file that has changed since
// (another size or time) is discarded, so the upload starts over rather than
// mix blocks of two versions of the file; blob/azure also checks each
// reused block's MD5 against the bytes now in the file.
type fileJournal struct {
	dir   *journal.Dir
	key   string
	size  int64
	mtime time.Time
}

// fileJournalRecord is what a fileJournal keeps.
type fileJournalRecord struct {
	Size  int64             `json:"size"`
	MTime time.Time         `json:"mtime"`
	State *blob.UploadState `json:"state"`
}

func newFileJournal(dir *journal.Dir, containerURL, blobName string, fi os.FileInfo) *fileJournal {
	return &fileJournal{dir: dir, key: containerKey(containerURL) + "\n" + blobName, size: fi.Size(), mtime: fi.ModTime().UTC()}
}

// Load implements blob.Journal.
func (j *fileJournal) Load() (*blob.UploadState, error) {
	var r fileJournalRecord
	err := j.dir.Load(j.key, &r)
	switch {
	case errors.Is(err, journal.ErrNotFound):
		return nil, nil
	case err != nil:
		_ = j.dir.Delete(j.key)
		return nil, err
	case r.Size != j.size || !r.MTime.Equal(j.mtime) || r.State == nil:
		_ = j.dir.Delete(j.key) // the file changed: nothing staged is reusable
		return nil, nil
	}
	return r.State, nil
}

// Save implements blob.Journal.
func (j *fileJournal) Save(st *blob.UploadState) error {
	return j.dir.Save(j.key, fileJournalRecord{Size: j.size, MTime: j.mtime, State: st})
}

// done removes the journal of a finished upload.
func (j *fileJournal) done() { _ = j.dir.Delete(j.key) }

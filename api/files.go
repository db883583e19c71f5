package api

import "time"

// NodeFile is an entry of a task's or node's file listing.
type NodeFile struct {
	Name        string          `json:"name"`
	URL         string          `json:"url,omitempty"`
	IsDirectory bool            `json:"isDirectory"`
	Properties  *FileProperties `json:"properties,omitempty"`
}

// FileProperties are a file's size, times and mode. ContentLength is a JSON
// string on the wire.
type FileProperties struct {
	CreationTime  *time.Time `json:"creationTime,omitempty"`
	LastModified  time.Time  `json:"lastModified"`
	ContentLength int64      `json:"contentLength,string"`
	ContentType   string     `json:"contentType,omitempty"`
	FileMode      string     `json:"fileMode,omitempty"`
}

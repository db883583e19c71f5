package httpapi

import "net/http"

// FileServer serves task and node files.
type FileServer interface{}

func (s *Server) listTaskFiles(w http.ResponseWriter, r *http.Request)  {}
func (s *Server) getTaskFile(w http.ResponseWriter, r *http.Request)    {}
func (s *Server) deleteTaskFile(w http.ResponseWriter, r *http.Request) {}
func (s *Server) listNodeFiles(w http.ResponseWriter, r *http.Request)  {}
func (s *Server) getNodeFile(w http.ResponseWriter, r *http.Request)    {}
func (s *Server) deleteNodeFile(w http.ResponseWriter, r *http.Request) {}

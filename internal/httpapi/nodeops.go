package httpapi

import (
	"net/http"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/service"
)

// rebootNode is POST /pools/{poolId}/nodes/{nodeId}/reboot with an optional
// {"nodeRebootOption": …} body; 202 Accepted as in Azure.
func (s *Server) rebootNode(w http.ResponseWriter, r *http.Request) {
	var body api.NodeReboot
	if err := optionalBody(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	s.restartNode(w, r, service.Reboot, body.NodeRebootOption)
}

// reimageNode is POST /pools/{poolId}/nodes/{nodeId}/reimage with an
// optional {"nodeReimageOption": …} body; 202 Accepted as in Azure.
func (s *Server) reimageNode(w http.ResponseWriter, r *http.Request) {
	var body api.NodeReimage
	if err := optionalBody(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	s.restartNode(w, r, service.Reimage, body.NodeReimageOption)
}

func (s *Server) restartNode(w http.ResponseWriter, r *http.Request, kind service.RestartKind, opt string) {
	poolID, nodeID := r.PathValue("poolId"), r.PathValue("nodeId")
	err := s.Svc.RestartNode(r.Context(), poolID, nodeID, kind, opt)
	reply(w, r, err, http.StatusAccepted, nodeURL(r, poolID, nodeID))
}

// deallocateNode is POST /pools/{poolId}/nodes/{nodeId}/deallocate with an
// optional {"nodeDeallocateOption": …} body; 202 Accepted as in Azure.
func (s *Server) deallocateNode(w http.ResponseWriter, r *http.Request) {
	var body api.NodeDeallocate
	if err := optionalBody(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	poolID, nodeID := r.PathValue("poolId"), r.PathValue("nodeId")
	err := s.Svc.DeallocateNode(r.Context(), poolID, nodeID, body.NodeDeallocateOption)
	reply(w, r, err, http.StatusAccepted, nodeURL(r, poolID, nodeID))
}

// startNode is POST /pools/{poolId}/nodes/{nodeId}/start; 202 Accepted.
func (s *Server) startNode(w http.ResponseWriter, r *http.Request) {
	if err := optionalBody(r, &struct{}{}); err != nil {
		writeError(w, r, err)
		return
	}
	poolID, nodeID := r.PathValue("poolId"), r.PathValue("nodeId")
	reply(w, r, s.Svc.StartNode(r.Context(), poolID, nodeID), http.StatusAccepted, nodeURL(r, poolID, nodeID))
}

package api

// NodeReboot is the body of node reboot (POST
// /pools/{poolId}/nodes/{nodeId}/reboot); it may be absent.
type NodeReboot struct {
	// NodeRebootOption says what happens to the node's running tasks:
	// requeue (default), terminate, taskcompletion or retaineddata.
	NodeRebootOption string `json:"nodeRebootOption,omitempty"`
}

// NodeReimage is the body of node reimage (POST
// /pools/{poolId}/nodes/{nodeId}/reimage); it may be absent.
type NodeReimage struct {
	// NodeReimageOption says what happens to the node's running tasks:
	// requeue (default), terminate, taskcompletion or retaineddata.
	NodeReimageOption string `json:"nodeReimageOption,omitempty"`
}

// NodeDeallocate is the body of node deallocate (POST
// /pools/{poolId}/nodes/{nodeId}/deallocate); it may be absent.
type NodeDeallocate struct {
	// NodeDeallocateOption says what happens to the node's running tasks:
	// requeue (default), terminate, taskcompletion or retaineddata.
	NodeDeallocateOption string `json:"nodeDeallocateOption,omitempty"`
}

// Node operation error codes (409).
const (
	CodeNodeBeingCreated  = "NodeBeingCreated"
	CodeNodeBeingStarted  = "NodeBeingStarted"
	CodeNodeBeingRebooted = "NodeBeingRebooted"
	CodeNodeBeingReimaged = "NodeBeingReimaged"
	CodeNodeStateUnusable = "NodeStateUnusable"
)

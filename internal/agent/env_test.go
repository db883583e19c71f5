package agent

import (
	"testing"

	"github.com/openbatch/openbatch/api"
)

func buildEnv(t *testing.T, spec Spec, cfg Config) Environment {
	t.Helper()
	paths, err := spec.Node.Layout.PathsFor(spec.Kind, spec.JobID, spec.TaskID)
	if err != nil {
		t.Fatal(err)
	}
	return BuildEnvironment(&cfg, &spec, paths, testLogger(t))
}

func TestEnvironmentBatchVariables(t *testing.T) {
	node := testNode(t)
	l := node.Layout
	spec := taskSpec(node, "x")
	spec.JobPreparationTaskID = DefaultJobPreparationTaskID
	env := buildEnv(t, spec, Config{})
	want := map[string]string{
		"AZ_BATCH_ACCOUNT_NAME":             "acct",
		"AZ_BATCH_ACCOUNT_URL":              "http://127.0.0.1:1/",
		"AZ_BATCH_POOL_ID":                  "pool1",
		"AZ_BATCH_NODE_ID":                  "node1",
		"AZ_BATCH_NODE_IS_DEDICATED":        "true",
		"AZ_BATCH_JOB_ID":                   "job1",
		"AZ_BATCH_TASK_ID":                  "task1",
		"AZ_BATCH_NODE_ROOT_DIR":            l.Root,
		"AZ_BATCH_NODE_SHARED_DIR":          l.Root + "/shared",
		"AZ_BATCH_NODE_STARTUP_DIR":         l.Root + "/startup",
		"AZ_BATCH_NODE_STARTUP_WORKING_DIR": l.Root + "/startup/wd",
		"AZ_BATCH_NODE_MOUNTS_DIR":          l.Root + "/fsmounts",
		"AZ_BATCH_TASK_DIR":                 l.Root + "/workitems/job1/job-1/task1",
		"AZ_BATCH_TASK_WORKING_DIR":         l.Root + "/workitems/job1/job-1/task1/wd",
		"AZ_BATCH_CERTIFICATES_DIR":         l.Root + "/workitems/job1/job-1/task1/certs",
		"AZ_BATCH_JOB_PREP_DIR":             l.Root + "/workitems/job1/job-1/jobpreparation",
		"AZ_BATCH_JOB_PREP_WORKING_DIR":     l.Root + "/workitems/job1/job-1/jobpreparation/wd",
		"HOME":                              l.Root + "/workitems/job1/job-1/task1/wd",
		"PATH":                              DefaultPath,
		"LANG":                              "C.UTF-8",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if _, ok := env["AZ_BATCH_RESERVED_DISK_SPACE_BYTES"]; ok {
		t.Error("reserved disk space set although not configured")
	}
}

func TestEnvironmentByKind(t *testing.T) {
	node := testNode(t)
	start := buildEnv(t, Spec{Kind: KindStartTask, Node: node, JobEnvironment: []api.EnvironmentSetting{{Name: "J", Value: "1"}}}, Config{})
	for _, k := range []string{"AZ_BATCH_JOB_ID", "AZ_BATCH_TASK_ID", "AZ_BATCH_JOB_PREP_DIR", "J"} {
		if _, ok := start[k]; ok {
			t.Errorf("start task has %s", k)
		}
	}
	if start["AZ_BATCH_TASK_WORKING_DIR"] != node.Layout.StartupWorkingDir() {
		t.Errorf("start task wd = %q", start["AZ_BATCH_TASK_WORKING_DIR"])
	}
	prep := buildEnv(t, Spec{Kind: KindJobPreparation, Node: node, JobID: "j", TaskID: "jobpreparation", JobPreparationTaskID: "jobpreparation"}, Config{})
	if _, ok := prep["AZ_BATCH_JOB_PREP_DIR"]; ok {
		t.Error("job preparation task has AZ_BATCH_JOB_PREP_DIR")
	}
	if prep["AZ_BATCH_TASK_ID"] != "jobpreparation" {
		t.Errorf("prep task id %q", prep["AZ_BATCH_TASK_ID"])
	}
	rel := buildEnv(t, Spec{Kind: KindJobRelease, Node: node, JobID: "j", TaskID: "jobrelease", JobPreparationTaskID: "jobpreparation"}, Config{})
	if rel["AZ_BATCH_JOB_PREP_WORKING_DIR"] != node.Layout.Root+"/workitems/j/job-1/jobpreparation/wd" {
		t.Errorf("release task prep wd %q", rel["AZ_BATCH_JOB_PREP_WORKING_DIR"])
	}
	node.ReservedDiskSpaceBytes = 1024
	node.IsDedicated = false
	e := buildEnv(t, taskSpec(node, "x"), Config{})
	if e["AZ_BATCH_TASK_RESERVED_EPHEMERAL_DISK_SPACE_BYTES"] != "1024" || e["AZ_BATCH_RESERVED_DISK_SPACE_BYTES"] != "1024" || e["AZ_BATCH_NODE_IS_DEDICATED"] != "false" {
		t.Errorf("reserved/dedicated vars wrong: %v", e)
	}
}

func TestEnvironmentDoesNotLeakAgentEnvironment(t *testing.T) {
	t.Setenv("OPENBATCH_AGENT_SECRET", "hunter2")
	t.Setenv("TZ", "Europe/Paris")
	env := buildEnv(t, taskSpec(testNode(t), "x"), Config{PassEnv: []string{"TZ", "NOT_SET_ANYWHERE"}, ExtraEnv: map[string]string{"EXTRA": "1"}, Path: "/custom/bin"})
	if _, ok := env["OPENBATCH_AGENT_SECRET"]; ok {
		t.Error("agent environment leaked into the task")
	}
	if env["TZ"] != "Europe/Paris" || env["EXTRA"] != "1" || env["PATH"] != "/custom/bin" {
		t.Errorf("TZ=%q EXTRA=%q PATH=%q", env["TZ"], env["EXTRA"], env["PATH"])
	}
	if _, ok := env["NOT_SET_ANYWHERE"]; ok {
		t.Error("unset PassEnv variable present")
	}
}

func TestEnvironmentPrecedenceAndExpansion(t *testing.T) {
	node := testNode(t)
	spec := taskSpec(node, "x")
	spec.JobEnvironment = []api.EnvironmentSetting{
		{Name: "A", Value: "job"},
		{Name: "ONLYJOB", Value: "j"},
		{Name: "X", Value: "jx"},
		{Name: "PATH", Value: "/job/bin:$PATH"},
		{Name: "AZ_BATCH_TASK_ID", Value: "hijack"},
	}
	spec.Environment = []api.EnvironmentSetting{
		{Name: "A", Value: "task"},
		{Name: "X", Value: "$X:tx"},                // extends the job's X
		{Name: "PATH", Value: "/task/bin:${PATH}"}, // extends the job's PATH
		{Name: "REF", Value: "${A}-$ONLYJOB-$AZ_BATCH_TASK_ID"},
		{Name: "SELF", Value: "a$SELF"}, // nothing below: literal
		{Name: "LOOP1", Value: "x$LOOP2"},
		{Name: "LOOP2", Value: "y${LOOP1}"},
		{Name: "DEPLOOP", Value: "<$LOOP1>"},
		{Name: "UNDEF", Value: "$NOPE ${NOPE2} $1 $$ ${ ${bad-name} $"},
		{Name: "CHAIN", Value: "$REF!"},
	}
	env := buildEnv(t, spec, Config{})
	want := map[string]string{
		"A":                "task",
		"ONLYJOB":          "j",
		"X":                "jx:tx",
		"PATH":             "/task/bin:/job/bin:" + DefaultPath,
		"AZ_BATCH_TASK_ID": "task1",
		"REF":              "task-j-task1",
		"SELF":             "a$SELF",
		"LOOP1":            "x$LOOP2",
		"LOOP2":            "y${LOOP1}",
		"DEPLOOP":          "<$LOOP1>",
		"UNDEF":            "$NOPE ${NOPE2} $1 $$ ${ ${bad-name} $",
		"CHAIN":            "task-j-task1!",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
}

// TestEnvironmentExpansionIsOrderIndependent builds the same environment
// many times (map iteration order varies) and expects one result.
func TestEnvironmentExpansionIsOrderIndependent(t *testing.T) {
	spec := taskSpec(testNode(t), "x")
	spec.Environment = []api.EnvironmentSetting{
		{Name: "A", Value: "$B"}, {Name: "B", Value: "$C"}, {Name: "C", Value: "$A"},
		{Name: "D", Value: "$E$E"}, {Name: "E", Value: "e"}, {Name: "F", Value: "$A$D"},
	}
	first := buildEnv(t, spec, Config{})
	for i := 0; i < 50; i++ {
		got := buildEnv(t, spec, Config{})
		for _, k := range []string{"A", "B", "C", "D", "F"} {
			if got[k] != first[k] {
				t.Fatalf("run %d: %s = %q, first run %q", i, k, got[k], first[k])
			}
		}
	}
	if first["A"] != "$B" || first["D"] != "ee" || first["F"] != "$A$D" {
		t.Errorf("A=%q D=%q F=%q", first["A"], first["D"], first["F"])
	}
}

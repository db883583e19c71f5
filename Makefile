# Convenience targets; each is one documented command.
.PHONY: demo test bench bench-scale bench-autoscale build

build:
	go build -o bin/openbatch ./cmd/openbatch

demo:
	go run ./cmd/openbatch demo

test:
	bash scripts/test.sh

bench:
	bash bench/run.sh

# Several servers on PostgreSQL (issue #10): throughput of 1 server on SQLite,
# 1 and 3 servers on PostgreSQL vs bare exec, and a 100k-task job on PostgreSQL
# (BIGJOB=1000000 for the issue's figure).
bench-scale:
	bash bench/run.sh -only scale,bigjob -bigjob $(or $(BIGJOB),100000)

# Scale-out (issue #14): one server whose pool grows from 0 to 50 `openbatch
# agent` processes (process node provider) under Azure's pending-tasks sample
# formula, and shrinks back to 0.
bench-autoscale:
	bash bench/run.sh -only autoscale

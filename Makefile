# Convenience targets; each is one documented command.
.PHONY: demo test bench bench-scale build

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

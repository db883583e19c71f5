# Convenience targets; each is one documented command.
.PHONY: demo test bench build

build:
	go build -o bin/openbatch ./cmd/openbatch

demo:
	go run ./cmd/openbatch demo

test:
	bash scripts/test.sh

bench:
	bash bench/run.sh

-- +goose Up
CREATE TABLE pools (
	id_lower TEXT PRIMARY KEY,
	seq BIGINT NOT NULL,
	body BYTEA NOT NULL
);
CREATE TABLE jobs (
	id_lower TEXT PRIMARY KEY,
	seq BIGINT NOT NULL,
	state TEXT NOT NULL,
	pool_lower TEXT NOT NULL,
	priority INTEGER NOT NULL,
	body BYTEA NOT NULL
);
CREATE INDEX jobs_pool ON jobs(pool_lower, state);
CREATE INDEX jobs_seq ON jobs(seq);
CREATE INDEX jobs_state ON jobs(state, seq);
CREATE TABLE tasks (
	seq BIGINT PRIMARY KEY,
	job_lower TEXT NOT NULL,
	id_lower TEXT NOT NULL,
	state TEXT NOT NULL,
	result TEXT NOT NULL DEFAULT '',
	waiting INTEGER NOT NULL DEFAULT 0,
	node_id TEXT NOT NULL DEFAULT '',
	epoch BIGINT NOT NULL DEFAULT 0,
	slots INTEGER NOT NULL DEFAULT 1,
	body BYTEA NOT NULL,
	last_node TEXT NOT NULL DEFAULT '',
	UNIQUE(job_lower, id_lower)
);
CREATE INDEX tasks_runnable ON tasks(state, waiting, job_lower, seq);
CREATE INDEX tasks_node ON tasks(node_id) WHERE node_id != '';
CREATE INDEX tasks_counts ON tasks(job_lower, state, result, slots);
CREATE INDEX tasks_last_node ON tasks(last_node, seq) WHERE last_node != '';
CREATE INDEX tasks_job_seq ON tasks(job_lower, seq);
CREATE TABLE nodes (
	pool_lower TEXT NOT NULL,
	id TEXT NOT NULL,
	body BYTEA NOT NULL,
	PRIMARY KEY(pool_lower, id)
);
CREATE INDEX nodes_id ON nodes(id);
CREATE TABLE prep_release (
	job_lower TEXT NOT NULL,
	node_id TEXT NOT NULL,
	body BYTEA NOT NULL,
	PRIMARY KEY(job_lower, node_id)
);
CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
CREATE TABLE job_schedules (
	id_lower TEXT PRIMARY KEY,
	seq BIGINT NOT NULL,
	state TEXT NOT NULL,
	body BYTEA NOT NULL
);
CREATE INDEX job_schedules_state ON job_schedules(state, seq);
CREATE TABLE leaders (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires TIMESTAMPTZ NOT NULL);

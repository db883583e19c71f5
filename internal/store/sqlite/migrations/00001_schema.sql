-- +goose Up
-- The schema as it was when migrations became versioned: every statement
-- is IF NOT EXISTS, so a database made before then is left as it is.
CREATE TABLE IF NOT EXISTS pools (
	id_lower TEXT PRIMARY KEY,
	seq INTEGER NOT NULL,
	body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
	id_lower TEXT PRIMARY KEY,
	seq INTEGER NOT NULL,
	state TEXT NOT NULL,
	pool_lower TEXT NOT NULL,
	priority INTEGER NOT NULL,
	body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_pool ON jobs(pool_lower, state);
CREATE TABLE IF NOT EXISTS tasks (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	job_lower TEXT NOT NULL,
	id_lower TEXT NOT NULL,
	state TEXT NOT NULL,
	result TEXT NOT NULL DEFAULT '',
	waiting INTEGER NOT NULL DEFAULT 0,
	node_id TEXT NOT NULL DEFAULT '',
	epoch INTEGER NOT NULL DEFAULT 0,
	slots INTEGER NOT NULL DEFAULT 1,
	body BLOB NOT NULL,
	last_node TEXT NOT NULL DEFAULT '',
	UNIQUE(job_lower, id_lower)
);
CREATE INDEX IF NOT EXISTS tasks_runnable ON tasks(state, waiting, job_lower, seq);
CREATE INDEX IF NOT EXISTS tasks_node ON tasks(node_id) WHERE node_id != '';
CREATE INDEX IF NOT EXISTS tasks_counts ON tasks(job_lower, state, result, slots);
CREATE INDEX IF NOT EXISTS tasks_last_node ON tasks(last_node, seq) WHERE last_node != '';
CREATE TABLE IF NOT EXISTS nodes (
	pool_lower TEXT NOT NULL,
	id TEXT NOT NULL,
	body BLOB NOT NULL,
	PRIMARY KEY(pool_lower, id)
);
CREATE TABLE IF NOT EXISTS prep_release (
	job_lower TEXT NOT NULL,
	node_id TEXT NOT NULL,
	body BLOB NOT NULL,
	PRIMARY KEY(job_lower, node_id)
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS job_schedules (
	id_lower TEXT PRIMARY KEY,
	seq INTEGER NOT NULL,
	state TEXT NOT NULL,
	body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS job_schedules_state ON job_schedules(state, seq);
CREATE TABLE IF NOT EXISTS leaders (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires INTEGER NOT NULL);

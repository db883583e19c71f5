-- +goose Up
-- The leases of running tasks, in a table of their own beside tasks: one
-- row per task leased to a node (tasks.node_id != ''), written in the same
-- transaction as the task (sqlstore.writeTask). The counts every lease and
-- poll makes (a node's slots in use, a job's running tasks, the loads of a
-- pool's nodes) read this small table instead of a partial index on tasks,
-- which on PostgreSQL kept an entry for every task version ever leased
-- until a vacuum: at 6,000 tasks a node's load read 900 pages.
CREATE TABLE leases (
	seq INTEGER PRIMARY KEY,
	job_lower TEXT NOT NULL,
	node_id TEXT NOT NULL,
	slots INTEGER NOT NULL
);
CREATE INDEX leases_node ON leases(node_id);
CREATE INDEX leases_job ON leases(job_lower);
INSERT INTO leases(seq, job_lower, node_id, slots) SELECT seq, job_lower, node_id, slots FROM tasks WHERE node_id != '';
DROP INDEX tasks_node;
DROP INDEX tasks_leased_job;

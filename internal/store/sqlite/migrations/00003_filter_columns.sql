-- +goose Up
-- Filter columns: the filterable properties of tasks, jobs and pools that a
-- $filter compares in SQL (internal/store/sqlstore/filter.go), NULL where the
-- property is absent. Strings, enum fold keys and date-times are bytes, so
-- they compare byte by byte whatever the collation. Migration 4 (Go, in
-- sqlstore) fills them for rows written before this one.
ALTER TABLE tasks ADD COLUMN f_id BLOB;
ALTER TABLE tasks ADD COLUMN f_display_name BLOB;
ALTER TABLE tasks ADD COLUMN f_previous_state BLOB;
ALTER TABLE tasks ADD COLUMN f_creation_time BLOB;
ALTER TABLE tasks ADD COLUMN f_state_time BLOB;
ALTER TABLE tasks ADD COLUMN f_required_slots INTEGER;
ALTER TABLE tasks ADD COLUMN f_exit_code INTEGER;
ALTER TABLE tasks ADD COLUMN f_result BLOB;
ALTER TABLE tasks ADD COLUMN f_start_time BLOB;
ALTER TABLE tasks ADD COLUMN f_end_time BLOB;
ALTER TABLE tasks ADD COLUMN f_retry_count INTEGER;
ALTER TABLE tasks ADD COLUMN f_requeue_count INTEGER;
ALTER TABLE tasks ADD COLUMN f_failure_code BLOB;
ALTER TABLE tasks ADD COLUMN f_node_id BLOB;
ALTER TABLE jobs ADD COLUMN f_id BLOB;
ALTER TABLE jobs ADD COLUMN f_display_name BLOB;
ALTER TABLE jobs ADD COLUMN f_creation_time BLOB;
ALTER TABLE jobs ADD COLUMN f_state_time BLOB;
ALTER TABLE jobs ADD COLUMN f_priority INTEGER;
ALTER TABLE jobs ADD COLUMN f_pool_id BLOB;
ALTER TABLE jobs ADD COLUMN f_exec_pool_id BLOB;
ALTER TABLE jobs ADD COLUMN f_on_all_tasks_complete BLOB;
ALTER TABLE pools ADD COLUMN f_id BLOB;
ALTER TABLE pools ADD COLUMN f_display_name BLOB;
ALTER TABLE pools ADD COLUMN f_state BLOB;
ALTER TABLE pools ADD COLUMN f_allocation_state BLOB;
ALTER TABLE pools ADD COLUMN f_vm_size BLOB;
ALTER TABLE pools ADD COLUMN f_creation_time BLOB;
ALTER TABLE pools ADD COLUMN f_state_time BLOB;
ALTER TABLE pools ADD COLUMN f_current_dedicated INTEGER;
ALTER TABLE pools ADD COLUMN f_target_dedicated INTEGER;
-- A job's tasks in one state, in list order: the first page of a list
-- filtered by state reads only matching rows.
CREATE INDEX IF NOT EXISTS tasks_job_state_seq ON tasks(job_lower, state, seq);
-- A job's leased tasks, which a lease counts against maxParallelTasks.
CREATE INDEX IF NOT EXISTS tasks_leased_job ON tasks(job_lower, node_id) WHERE node_id != '';
-- A job's tasks in list order (PostgreSQL's schema has had it from the
-- start): a page reads its rows in order instead of sorting the job's tasks.
CREATE INDEX IF NOT EXISTS tasks_job_seq ON tasks(job_lower, seq);

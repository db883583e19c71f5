-- +goose Up
-- Filter columns: the filterable properties of tasks, jobs and pools that a
-- $filter compares in SQL (internal/store/sqlstore/filter.go), NULL where the
-- property is absent. Strings, enum fold keys and date-times are bytes, so
-- they compare byte by byte whatever the collation. Migration 4 (Go, in
-- sqlstore) fills them for rows written before this one.
ALTER TABLE tasks ADD COLUMN f_id BYTEA;
ALTER TABLE tasks ADD COLUMN f_display_name BYTEA;
ALTER TABLE tasks ADD COLUMN f_previous_state BYTEA;
ALTER TABLE tasks ADD COLUMN f_creation_time BYTEA;
ALTER TABLE tasks ADD COLUMN f_state_time BYTEA;
ALTER TABLE tasks ADD COLUMN f_required_slots BIGINT;
ALTER TABLE tasks ADD COLUMN f_exit_code BIGINT;
ALTER TABLE tasks ADD COLUMN f_result BYTEA;
ALTER TABLE tasks ADD COLUMN f_start_time BYTEA;
ALTER TABLE tasks ADD COLUMN f_end_time BYTEA;
ALTER TABLE tasks ADD COLUMN f_retry_count BIGINT;
ALTER TABLE tasks ADD COLUMN f_requeue_count BIGINT;
ALTER TABLE tasks ADD COLUMN f_failure_code BYTEA;
ALTER TABLE tasks ADD COLUMN f_node_id BYTEA;
ALTER TABLE jobs ADD COLUMN f_id BYTEA;
ALTER TABLE jobs ADD COLUMN f_display_name BYTEA;
ALTER TABLE jobs ADD COLUMN f_creation_time BYTEA;
ALTER TABLE jobs ADD COLUMN f_state_time BYTEA;
ALTER TABLE jobs ADD COLUMN f_priority BIGINT;
ALTER TABLE jobs ADD COLUMN f_pool_id BYTEA;
ALTER TABLE jobs ADD COLUMN f_exec_pool_id BYTEA;
ALTER TABLE jobs ADD COLUMN f_on_all_tasks_complete BYTEA;
ALTER TABLE pools ADD COLUMN f_id BYTEA;
ALTER TABLE pools ADD COLUMN f_display_name BYTEA;
ALTER TABLE pools ADD COLUMN f_state BYTEA;
ALTER TABLE pools ADD COLUMN f_allocation_state BYTEA;
ALTER TABLE pools ADD COLUMN f_vm_size BYTEA;
ALTER TABLE pools ADD COLUMN f_creation_time BYTEA;
ALTER TABLE pools ADD COLUMN f_state_time BYTEA;
ALTER TABLE pools ADD COLUMN f_current_dedicated BIGINT;
ALTER TABLE pools ADD COLUMN f_target_dedicated BIGINT;
-- A job's tasks in one state, in list order: the first page of a list
-- filtered by state reads only matching rows.
CREATE INDEX tasks_job_state_seq ON tasks(job_lower, state, seq);
-- A job's leased tasks, which a lease counts against maxParallelTasks.
CREATE INDEX tasks_leased_job ON tasks(job_lower, node_id) WHERE node_id != '';

-- +goose Up
-- Each job's number of tasks, kept by the statements that add and remove
-- tasks, so that the per-job task limit is checked in the adding
-- transaction without counting the job's tasks.
ALTER TABLE jobs ADD COLUMN task_count INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET task_count = (SELECT COUNT(*) FROM tasks WHERE tasks.job_lower = jobs.id_lower);

-- +goose Up
-- Samples of each autoscale pool's sampled variables ($PendingTasks,
-- $CPUPercent, …), one row per pool and sample time (Unix milliseconds);
-- the body is the JSON map of values. Any server evaluates a formula from
-- these rows; old rows are dropped as new ones are added.
CREATE TABLE autoscale_samples (
	pool_lower TEXT NOT NULL,
	at BIGINT NOT NULL,
	body BYTEA NOT NULL,
	PRIMARY KEY(pool_lower, at)
);

-- carbond schema v7: the state 'stopped_budget' (a job carbond stopped, after
-- a checkpoint, because its predicted emissions exceeded carbon.budget_kg).
-- SQLite cannot change a CHECK constraint in place, so the jobs table is
-- rebuilt (https://www.sqlite.org/lang_altertable.html, "making other kinds
-- of table schema changes"): the runner turns foreign keys off and
-- legacy_alter_table on for this file, checks foreign keys before the commit,
-- and the AUTOINCREMENT counter is carried over so no id is ever reused.
-- carbond: rebuilds tables
CREATE TABLE jobs_v7 (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  name             TEXT    NOT NULL,
  spec             TEXT    NOT NULL,
  policy           TEXT    NOT NULL,
  owner_uid        INTEGER NOT NULL,
  state            TEXT    NOT NULL CHECK (state IN
                     ('queued','waiting','running','succeeded','failed','cancelled','stopped_budget')),
  reason           TEXT    NOT NULL DEFAULT '',
  submitted_at     TEXT    NOT NULL,
  not_before       TEXT,
  deadline         TEXT,
  planned_start    TEXT,
  started_at       TEXT,
  finished_at      TEXT,
  attempts         INTEGER NOT NULL DEFAULT 0,
  exit_status      INTEGER,
  error            TEXT    NOT NULL DEFAULT '',
  progress         TEXT    NOT NULL DEFAULT '',
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  run_dir          TEXT    NOT NULL DEFAULT '',
  signature        TEXT    NOT NULL DEFAULT ''
);
INSERT INTO jobs_v7 (id, name, spec, policy, owner_uid, state, reason, submitted_at, not_before, deadline,
                     planned_start, started_at, finished_at, attempts, exit_status, error, progress,
                     cancel_requested, run_dir, signature)
SELECT id, name, spec, policy, owner_uid, state, reason, submitted_at, not_before, deadline,
       planned_start, started_at, finished_at, attempts, exit_status, error, progress,
       cancel_requested, run_dir, signature
FROM jobs;
DELETE FROM sqlite_sequence WHERE name = 'jobs_v7';
INSERT INTO sqlite_sequence (name, seq) SELECT 'jobs_v7', seq FROM sqlite_sequence WHERE name = 'jobs';
DROP TABLE jobs;
ALTER TABLE jobs_v7 RENAME TO jobs;
CREATE INDEX jobs_state ON jobs(state, id);
CREATE INDEX jobs_signature ON jobs(signature, state);

-- carbond schema v1: the job queue and its history.
-- Applied by carbond at start-up inside one BEGIN IMMEDIATE transaction
-- together with PRAGMA user_version = 1. Times are UTC text,
-- 'YYYY-MM-DDTHH:MM:SS.mmmZ', so they sort and read well at the sqlite3 prompt.

CREATE TABLE jobs (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  name             TEXT    NOT NULL,
  spec             TEXT    NOT NULL,            -- the job file exactly as submitted
  policy           TEXT    NOT NULL,
  owner_uid        INTEGER NOT NULL,
  state            TEXT    NOT NULL CHECK (state IN
                     ('queued','waiting','running','succeeded','failed','cancelled')),
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
  progress         TEXT    NOT NULL DEFAULT '',  -- last worker progress event (JSON)
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  run_dir          TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX jobs_state ON jobs(state, id);

-- Every state change with its reason. from_state is NULL for the submission.
CREATE TABLE job_events (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id     INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  at         TEXT    NOT NULL,
  from_state TEXT,
  to_state   TEXT    NOT NULL,
  reason     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX job_events_job ON job_events(job_id, id);

-- For people at the sqlite3 prompt: one line a job.
CREATE VIEW job_summary AS
SELECT j.id,
       j.name,
       j.state,
       j.policy,
       j.owner_uid AS uid,
       j.attempts,
       j.submitted_at,
       j.started_at,
       j.finished_at,
       CASE WHEN j.started_at IS NOT NULL
            THEN ROUND((julianday(j.started_at) - julianday(j.submitted_at)) * 86400.0, 1)
       END AS wait_s,
       CASE WHEN j.started_at IS NOT NULL AND j.finished_at IS NOT NULL
            THEN ROUND((julianday(j.finished_at) - julianday(j.started_at)) * 86400.0, 1)
       END AS run_s,
       j.exit_status,
       j.reason
FROM jobs j;

-- The history of each job in order, with names.
CREATE VIEW job_history AS
SELECT e.job_id, j.name, e.at, COALESCE(e.from_state, '-') AS from_state, e.to_state, e.reason
FROM job_events e JOIN jobs j ON j.id = e.job_id
ORDER BY e.job_id, e.id;

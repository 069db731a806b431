-- carbond schema v2: one row per finished training epoch, as the worker
-- reported it. A resumed run that repeats an epoch replaces its row.
CREATE TABLE epochs (
  job_id            INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  epoch             INTEGER NOT NULL,
  attempt           INTEGER NOT NULL,
  at                TEXT    NOT NULL,
  train_loss        REAL,
  test_loss         REAL,
  test_accuracy     REAL,
  samples           INTEGER,
  samples_per_s     REAL,
  wall_s            REAL,
  lr                REAL,
  peak_memory_bytes INTEGER,
  memory_method     TEXT    NOT NULL DEFAULT '',
  PRIMARY KEY (job_id, epoch)
);

-- For people: epochs with their job's name, memory in MB.
CREATE VIEW epoch_summary AS
SELECT e.job_id, j.name, e.epoch, e.attempt, ROUND(e.train_loss, 4) AS train_loss,
       ROUND(e.test_loss, 4) AS test_loss, ROUND(e.test_accuracy, 4) AS test_accuracy,
       ROUND(e.samples_per_s, 0) AS samples_per_s, ROUND(e.wall_s, 2) AS wall_s,
       ROUND(e.peak_memory_bytes / 1048576.0, 1) AS peak_memory_mb, e.memory_method
FROM epochs e JOIN jobs j ON j.id = e.job_id
ORDER BY e.job_id, e.epoch;

-- carbond schema v9: the memory that training added per epoch (the peak
-- minus what the worker held before its first step: data, model, LibTorch),
-- which shows what gradient accumulation saves where the peak hides it.
-- NULL for epochs stored before v9 or by a worker that did not report it.
ALTER TABLE epochs ADD COLUMN memory_added_bytes INTEGER;

-- For people: epochs with their job's name, memory in MB.
DROP VIEW epoch_summary;
CREATE VIEW epoch_summary AS
SELECT e.job_id, j.name, e.epoch, e.attempt, ROUND(e.train_loss, 4) AS train_loss,
       ROUND(e.test_loss, 4) AS test_loss, ROUND(e.test_accuracy, 4) AS test_accuracy,
       ROUND(e.samples_per_s, 0) AS samples_per_s, ROUND(e.wall_s, 2) AS wall_s,
       ROUND(e.peak_memory_bytes / 1048576.0, 1) AS peak_memory_mb,
       ROUND(e.memory_added_bytes / 1048576.0, 1) AS memory_added_mb, e.memory_method
FROM epochs e JOIN jobs j ON j.id = e.job_id
ORDER BY e.job_id, e.epoch;

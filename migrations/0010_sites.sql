-- carbond schema v10: sites (issue 20). A job runs at one site: the local
-- worker ('local', the default when carbond.yaml configures no sites) or a
-- Slurm cluster. For a Slurm site carbond keeps, across its own restarts,
-- the Slurm job id, the token in the job's --comment (carbond:<id>:<token>;
-- Slurm reuses ids, so a restarted carbond adopts a job only when both
-- match) and where the attempt's events start in <run_dir>/events.jsonl.
-- NULL site: a job stored before v10, which ran locally.
ALTER TABLE jobs ADD COLUMN site TEXT;
ALTER TABLE jobs ADD COLUMN slurm_job_id INTEGER;
ALTER TABLE jobs ADD COLUMN site_token TEXT;
ALTER TABLE jobs ADD COLUMN events_offset INTEGER NOT NULL DEFAULT 0;

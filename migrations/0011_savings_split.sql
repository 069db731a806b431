-- carbond schema v11: a job placed over several sites (issue 17) may run in
-- another zone than its first-listed site's. Its saving is then against
-- starting at once at that first-listed site (baseline_zone), and splits
-- into the part due to time (the baseline zone at submission vs during the
-- run) and the part due to place (the baseline zone vs the zone it ran in,
-- both during the run): time_saving_pct + place_saving_pct = saving_pct.
-- Empty baseline_zone: the job ran in its baseline zone; all of it is time.
ALTER TABLE job_savings ADD COLUMN baseline_zone TEXT NOT NULL DEFAULT '';
ALTER TABLE job_savings ADD COLUMN time_saving_pct REAL;
ALTER TABLE job_savings ADD COLUMN place_saving_pct REAL;

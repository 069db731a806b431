-- carbond schema v8: a carbon-aware job submitted with --with-baseline names
-- its baseline twin (policy immediate, accumulation 1, fp32, same model, data,
-- seed and epochs), so `carbonctl compare ID` needs one id.
ALTER TABLE jobs ADD COLUMN baseline_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL;

-- For people: each pair with both states.
CREATE VIEW job_pairs AS
SELECT c.id AS candidate_id, c.name AS candidate, c.state AS candidate_state,
       b.id AS baseline_id, b.name AS baseline, b.state AS baseline_state
FROM jobs c JOIN jobs b ON b.id = c.baseline_id
ORDER BY c.id;

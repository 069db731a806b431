-- carbond schema v4: a job's signature (model, data, epochs, batch, device;
-- see JobSignature) so the scheduler can learn how long jobs like it take.
ALTER TABLE jobs ADD COLUMN signature TEXT NOT NULL DEFAULT '';
CREATE INDEX jobs_signature ON jobs(signature, state);

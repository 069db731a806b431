-- carbond schema v12: the seconds an epoch's energy covers (issue 19). The
-- worker meters from one epoch-end sample to the next, which includes the
-- previous checkpoint save, while wall_s is train + evaluation only. The
-- emissions rows use energy_s as their duration, so energy, duration and
-- power (energy over duration) describe the same span. NULL: stored before
-- v12, or no energy measured; wall_s then stands in.
ALTER TABLE epochs ADD COLUMN energy_s REAL;

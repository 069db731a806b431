-- carbond schema v13: the machine an epoch ran on and its load (issue 19),
-- which CodeCarbon's emissions rows carry: cpu_model, cpu_count, gpu_model,
-- gpu_count, ram_total_size (GiB), os, and the epoch's mean CPU and RAM
-- utilisation and RAM in use (GiB). NULL: stored before v13, or a worker
-- that did not report it (energy tracking off).
ALTER TABLE epochs ADD COLUMN host_cpu_model TEXT;
ALTER TABLE epochs ADD COLUMN host_cpu_count INTEGER;
ALTER TABLE epochs ADD COLUMN host_gpu_model TEXT;
ALTER TABLE epochs ADD COLUMN host_gpu_count INTEGER;
ALTER TABLE epochs ADD COLUMN host_ram_total_gib REAL;
ALTER TABLE epochs ADD COLUMN host_os TEXT;
ALTER TABLE epochs ADD COLUMN cpu_utilization_pct REAL;
ALTER TABLE epochs ADD COLUMN ram_utilization_pct REAL;
ALTER TABLE epochs ADD COLUMN ram_used_gib REAL;

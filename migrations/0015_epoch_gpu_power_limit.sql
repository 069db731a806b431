-- carbond schema v15: the GPU power limit in force at the end of each epoch
-- (issue 21's power capping), in watts summed over the GPUs the worker
-- meters, as NVML reports it. NULL: no GPU, no NVML, or stored before v15.
ALTER TABLE epochs ADD COLUMN gpu_power_limit_w REAL;

-- carbond schema v6: energy and emissions per epoch (CodeCarbon's methodology,
-- docs in README "Energy and CO2"). Energies in kWh, powers in W (means over
-- the epoch), emissions in kg CO2eq; each method says how a figure was obtained.
ALTER TABLE epochs ADD COLUMN cpu_kwh REAL NOT NULL DEFAULT 0;
ALTER TABLE epochs ADD COLUMN gpu_kwh REAL NOT NULL DEFAULT 0;
ALTER TABLE epochs ADD COLUMN ram_kwh REAL NOT NULL DEFAULT 0;
ALTER TABLE epochs ADD COLUMN energy_kwh REAL NOT NULL DEFAULT 0;
ALTER TABLE epochs ADD COLUMN cpu_w REAL NOT NULL DEFAULT 0;
ALTER TABLE epochs ADD COLUMN gpu_w REAL NOT NULL DEFAULT 0;
ALTER TABLE epochs ADD COLUMN ram_w REAL NOT NULL DEFAULT 0;
ALTER TABLE epochs ADD COLUMN cpu_method TEXT NOT NULL DEFAULT '';   -- rapl | tdp-model
ALTER TABLE epochs ADD COLUMN gpu_method TEXT NOT NULL DEFAULT '';   -- nvml | nvml-power | unavailable
ALTER TABLE epochs ADD COLUMN ram_method TEXT NOT NULL DEFAULT '';   -- ram-model
ALTER TABLE epochs ADD COLUMN gco2_per_kwh REAL;                     -- mean grid intensity during the epoch
ALTER TABLE epochs ADD COLUMN kg_co2 REAL;
ALTER TABLE epochs ADD COLUMN intensity_source TEXT NOT NULL DEFAULT '';
ALTER TABLE epochs ADD COLUMN zone TEXT NOT NULL DEFAULT '';

-- For people: energy and emissions per epoch.
CREATE VIEW epoch_emissions AS
SELECT e.job_id, j.name, e.epoch, ROUND(e.wall_s, 1) AS wall_s,
       ROUND(e.energy_kwh * 1000, 4) AS energy_wh, ROUND(e.cpu_w, 1) AS cpu_w, ROUND(e.gpu_w, 1) AS gpu_w,
       ROUND(e.ram_w, 1) AS ram_w, e.cpu_method, e.gpu_method, e.zone, e.intensity_source,
       ROUND(e.gco2_per_kwh, 1) AS gco2_per_kwh, ROUND(e.kg_co2 * 1000, 4) AS g_co2
FROM epochs e JOIN jobs j ON j.id = e.job_id
ORDER BY e.job_id, e.epoch;

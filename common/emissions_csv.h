// CodeCarbon-compatible emissions output: the 38 columns of CodeCarbon 3's
// emissions.csv in CodeCarbon's order, always all of them (empty where
// carbond has nothing to say), numbers written as Python writes floats, so a
// CodeCarbon reader (pandas, its dashboard) takes carbond's file as its own.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "common/job_record.h"
#include "common/status.h"

namespace carbon {

constexpr size_t kEmissionsColumns = 38;
extern const std::array<const char*, kEmissionsColumns> kEmissionsHeader;

// One row. Energies in kWh, powers in W, emissions in kg CO2eq, durations in s.
struct EmissionsRecord {
  std::string timestamp, project_name, run_id, experiment_id;
  double duration = 0, emissions = 0, emissions_rate = 0;
  double cpu_power = 0, gpu_power = 0, ram_power = 0;
  double cpu_energy = 0, gpu_energy = 0, ram_energy = 0, energy_consumed = 0, water_consumed = 0;
  std::string country_name, country_iso_code, region, cloud_provider, cloud_region, os, python_version,
      codecarbon_version;
  std::optional<int64_t> cpu_count;
  std::string cpu_model;
  std::optional<int64_t> gpu_count;
  std::string gpu_model;
  std::optional<double> longitude, latitude, ram_total_size;
  std::string tracking_mode = "machine";
  double cpu_utilization_percent = 0, gpu_utilization_percent = 0, ram_utilization_percent = 0, ram_used_gb = 0;
  std::string on_cloud = "N";
  double pue = 1.0, wue = 0.0;
};

std::string EmissionsCsvHeader();
std::string EmissionsCsvRow(const EmissionsRecord& r);
// The same row as a JSON object with CodeCarbon's keys in CodeCarbon's order
// (numbers as numbers, absent optional values as null).
std::string EmissionsJson(const EmissionsRecord& r);

// A job's rows: one per stored epoch. Summed, as CodeCarbon's tools sum a
// file's rows, they give the run's totals.
std::vector<EmissionsRecord> EmissionsRows(const JobRecord& job, const std::vector<EpochRecord>& epochs);
// The run as one row, CodeCarbon's convention for a finished run: the sums
// (energies, emissions, duration) and the mean powers, under the job's name
// and the run id "carbond-job-<id>". `epochs` must not be empty.
EmissionsRecord EmissionsTotal(const JobRecord& job, const std::vector<EpochRecord>& epochs);
// The whole emissions.csv (header and rows) and emissions.json (an array).
std::string RenderEmissionsCsv(const std::vector<EmissionsRecord>& rows);
std::string RenderEmissionsJson(const std::vector<EmissionsRecord>& rows);

// Writes <run_dir>/emissions.csv and emissions.json (the epoch rows) and,
// given a total, emissions-total.csv and emissions-total.json (that one
// row): each file whole, through a temporary file renamed over it; makes
// run_dir if needed. The total stays out of emissions.csv, where CodeCarbon's
// tools would count it twice.
Status WriteEmissionsFiles(const std::string& run_dir, const std::vector<EmissionsRecord>& rows,
                           const EmissionsRecord* total = nullptr);

// The country of a grid zone, for country_iso_code and country_name:
// Electricity Maps zone ids begin with the ISO 3166-1 alpha-2 code ("GB",
// "DE-LU", "US-CAL-CISO", "JP-TK"); a three-letter zone is taken as an
// alpha-3 code ("GBR", what `carbon-worker --country` charges at). The name
// is CodeCarbon's where CodeCarbon has the country (global_energy_mix.json),
// else iso-codes'. Absent for a zone that begins with no country code.
struct Country {
  std::string iso3, name;
};
std::optional<Country> CountryOfZone(const std::string& zone);
// What a row says where no country is known (a zone that names none, a
// standalone run at --gco2-per-kwh without --country): the world, as the
// World Bank codes it. CodeCarbon's dashboard upper-cases country_iso_code,
// so an empty cell (NaN to pandas) would break its regional panel.
inline const Country kNoCountry{"WLD", "World"};

// CodeCarbon's `region` of a grid zone: set only below the country, as
// CodeCarbon names regions in its own tables (usa_emissions.json,
// canada_energy_mix.json): a US state for an Electricity Maps zone that lies
// in one ("US-CAL-CISO" -> "california", "US-TEX-ERCO" -> "texas"), a Canadian
// province ("CA-ON" -> "ontario"). Empty for a country-level zone ("GB",
// "DE-LU") and for one that spans states ("US-MIDA-PJM").
std::string RegionOfZone(const std::string& zone);

// This machine as Python's platform.platform() names it
// ("Linux-6.1.0-18-amd64-x86_64-with-glibc2.36"), CodeCarbon's `os`.
std::string PlatformName();

// A double as Python's repr() writes it: the shortest digits that read back
// the same, "100.0" not "100", "1e-05" below 1e-4, "1e+16" from 1e16 up.
std::string PythonFloat(double v);

}  // namespace carbon

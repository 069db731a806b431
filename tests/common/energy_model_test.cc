// carbond's energy arithmetic against CodeCarbon 3.3's own outputs.
#include "common/energy_model.h"

#include "common/emissions_csv.h"
#include "common/time_util.h"
#include "tests/support/files.h"

#include <gtest/gtest.h>

#include <tuple>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace carbon::energy {
namespace {

nlohmann::json Golden() {
  return nlohmann::json::parse(fakes::ReadSourceFile("tests/fixtures/codecarbon/golden.json"));
}

TEST(EnergyModel, UnitsMatchCodeCarbonToTheLastDigit) {
  auto u = Golden()["units"];
  EXPECT_EQ(KwhFromMicrojoules(1e6), u["Energy.from_ujoules(1e6)_kWh"].get<double>());
  EXPECT_EQ(KwhFromMicrojoules(3.6e12), u["Energy.from_ujoules(3.6e12)_kWh"].get<double>());
  EXPECT_EQ(KwhFromMillijoules(3.6e9), u["Energy.from_millijoules(3.6e9)_kWh"].get<double>());
  EXPECT_EQ(KwhFromPowerAndTime(300, 3600), u["Energy.from_power_and_time(300W,3600s)_kWh"].get<double>());
  EXPECT_EQ(WattsFromEnergies(0.001, 0, 15), u["Power.from_energies_and_delay(0.001kWh,0,15s)_W"].get<double>());
}

TEST(EnergyModel, RamWattsForEveryListedSize) {
  auto g = Golden();
  int checked = 0;
  for (auto& [gb, watts] : g["ram_W_x86"].items()) {
    EXPECT_DOUBLE_EQ(RamPowerWatts(std::stod(gb), /*arm=*/false), watts.get<double>()) << gb << " GB x86";
    ++checked;
  }
  for (auto& [gb, watts] : g["ram_W_arm"].items()) {
    EXPECT_DOUBLE_EQ(RamPowerWatts(std::stod(gb), /*arm=*/true), watts.get<double>()) << gb << " GB arm";
    ++checked;
  }
  EXPECT_GE(checked, 30);
}

TEST(EnergyModel, CpuLoadCurve) {
  const auto g = Golden();
  for (auto& [pct, watts] : g["cpu_load_W_tdp100"].items())
    EXPECT_DOUBLE_EQ(CpuPowerAtLoad(100, std::stod(pct) / 100.0), watts.get<double>()) << pct << "%";
}

TEST(EnergyModel, RaplWrapAround) {
  auto w = Golden()["rapl_wrap"];
  double kwh = RaplDeltaKwh(w["prev_uj"].get<uint64_t>(), w["new_uj"].get<uint64_t>(), w["max_uj"].get<uint64_t>());
  EXPECT_EQ(kwh, w["delta_kWh"].get<double>());
  EXPECT_EQ(WattsFromEnergies(kwh, 0, 15), w["power_W"].get<double>());
  EXPECT_NEAR(kwh / kKwhPerJoule, w["expected_J"].get<double>(), 1e-9);
  // Without a wrap: a plain difference.
  EXPECT_DOUBLE_EQ(RaplDeltaKwh(1'000'000, 3'000'000, 1ULL << 40), KwhFromMicrojoules(2e6));
}

TEST(EnergyModel, EveryTdpMatchListed) {
  auto table = ParseCpuPowerCsv(fakes::ReadSourceFile("configs/codecarbon/cpu_power.csv"), "cpu_power.csv");
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_GT(table->size(), 4000u);
  int checked = 0;
  const auto g = Golden();
  for (auto& [raw, expect] : g["tdp_match"].items()) {
    auto m = MatchCpu(raw, *table);
    if (expect[0].is_null()) {
      EXPECT_FALSE(m) << raw << " matched " << m->name;
    } else {
      ASSERT_TRUE(m) << raw << " (normalised: " << NormalizeCpuName(raw) << ")";
      EXPECT_EQ(m->name, expect[0].get<std::string>()) << raw;
      EXPECT_DOUBLE_EQ(m->tdp_watts, expect[1].get<double>()) << raw;
    }
    ++checked;
  }
  EXPECT_GE(checked, 10);
  auto bad = ParseCpuPowerCsv("Name,TDP\nFoo,hot\n", "t.csv");
  EXPECT_NE(bad.status().message().find("t.csv: no row with a TDP in watts"), std::string::npos)
      << bad.status().message();
  EXPECT_NE(ParseCpuPowerCsv("Model,Watts\nFoo,1\n", "t.csv").status().message().find("t.csv:1: expected the header"),
            std::string::npos);
  // Unknown: no match, so the caller uses CodeCarbon's threads x 4 W.
  EXPECT_FALSE(MatchCpu("Totally Unknown CPU 9000", *table));
}

TEST(EnergyModel, KgPerKwhByCountry) {
  auto c = CountryIntensities::Parse(fakes::ReadSourceFile("configs/codecarbon/global_energy_mix.json"),
                                     fakes::ReadSourceFile("configs/codecarbon/carbon_intensity_per_source.json"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const auto g = Golden();
  int checked = 0;
  for (auto& [iso, kg] : g["kg_per_kWh_country"].items()) {
    EXPECT_EQ(c->KgPerKwh(iso), kg.get<double>()) << iso;  // to the last digit
    ++checked;
  }
  EXPECT_GE(checked, 20);
  EXPECT_EQ(*c->CountryName("FRA"), "France");
  EXPECT_FALSE(CountryIntensities::Parse("{", "{}").ok());
}

TEST(EmissionsCsv, HeaderRowAndFloatsAsCodeCarbonWritesThem) {
  const auto g = Golden();
  const std::string golden = g["csv_two_appends"];
  const std::string header = golden.substr(0, golden.find('\n'));
  EXPECT_EQ(EmissionsCsvHeader(), header);
  ASSERT_EQ(g["json_fields_order"].size(), kEmissionsColumns);
  for (size_t i = 0; i < kEmissionsColumns; ++i) EXPECT_EQ(g["json_fields_order"][i], kEmissionsHeader[i]);
  // CodeCarbon's first golden row, rebuilt field by field.
  EmissionsRecord r;
  r.timestamp = "2026-01-01T00:00:00";
  r.project_name = "codecarbon";
  r.run_id = "00000000-0000-0000-0000-000000000000";
  r.experiment_id = "5b0fa12a-3dd7-45bb-9766-cc326314d9f1";
  r.duration = 100.0;
  r.emissions = 0.001;
  r.emissions_rate = 1e-05;
  r.cpu_power = 42.5;
  r.gpu_power = 300.0;
  r.ram_power = 38.0;
  r.cpu_energy = 0.0011805555555555556;
  r.gpu_energy = 0.008333333333333333;
  r.ram_energy = 0.0010555555555555555;
  r.energy_consumed = 0.010569444444444444;
  r.country_name = "France";
  r.country_iso_code = "FRA";
  r.os = "Linux-6.8.0-x86_64-with-glibc2.39";
  r.python_version = "3.11.7";
  r.codecarbon_version = "3.3.0";
  r.cpu_count = 32;
  r.cpu_model = "AMD EPYC 7513 32-Core Processor";
  r.gpu_count = 1;
  r.gpu_model = "1 x NVIDIA H100 80GB HBM3";
  r.ram_total_size = 125.7;
  r.cpu_utilization_percent = 12.5;
  r.gpu_utilization_percent = 97.0;
  r.ram_utilization_percent = 20.0;
  r.ram_used_gb = 25.1;
  size_t a = golden.find('\n') + 1;
  EXPECT_EQ(EmissionsCsvRow(r), golden.substr(a, golden.find('\n', a) - a));
  // Always 38 fields, however empty.
  std::string empty = EmissionsCsvRow(EmissionsRecord{});
  EXPECT_EQ(std::count(empty.begin(), empty.end(), ','), 37);
  auto js = nlohmann::ordered_json::parse(EmissionsJson(r));
  size_t i = 0;
  for (auto it = js.begin(); it != js.end(); ++it, ++i) EXPECT_EQ(it.key(), g["json_fields_order"][i]) << i;
  EXPECT_EQ(i, kEmissionsColumns);
  EXPECT_EQ(js["cpu_count"], 32);
  EXPECT_TRUE(js["longitude"].is_null());
  EXPECT_EQ(PythonFloat(0.0001), "0.0001");
  EXPECT_EQ(PythonFloat(1e16), "1e+16");
  EXPECT_EQ(PythonFloat(123456789012345.6), "123456789012345.6");
  EXPECT_EQ(PythonFloat(-2.5e-07), "-2.5e-07");
}

// A row's energy, duration and power cover the same span (issue 19): the
// epoch's energy runs from the previous epoch-end sample (checkpoint save
// included), so that span, not train + evaluation time, is the duration,
// and a constant 20 W RAM model reads 20 W in every row and in the total.
TEST(EmissionsCsv, DurationAndPowerAreTheSpanTheEnergyCovers) {
  JobRecord job;
  job.id = 7;
  job.name = "span";
  std::vector<EpochRecord> epochs(2);
  for (int i = 0; i < 2; ++i) {
    EpochRecord& e = epochs[i];
    e.job_id = 7;
    e.epoch = i + 1;
    e.attempt = 1;
    e.at = *ParseTime(i ? "2026-11-28T10:01:00Z" : "2026-11-28T10:00:00Z");
    e.wall_s = 50;                 // train + evaluation
    e.energy_s = i ? 61.5 : 52.0;  // plus the checkpoint save before it
    e.ram_kwh = KwhFromPowerAndTime(20, *e.energy_s);
    e.cpu_kwh = KwhFromPowerAndTime(8, *e.energy_s);
    e.energy_kwh = e.ram_kwh + e.cpu_kwh;
    e.ram_w = 20 * *e.energy_s / 50;  // what a power over wall_s would say
    e.kg_co2 = e.energy_kwh * 0.2;
  }
  const auto rows = EmissionsRows(job, epochs);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_DOUBLE_EQ(rows[0].duration, 52.0);
  EXPECT_DOUBLE_EQ(rows[1].duration, 61.5);
  for (const auto& r : rows) {
    EXPECT_NEAR(r.ram_power, 20.0, 1e-9);
    EXPECT_NEAR(r.cpu_power, 8.0, 1e-9);
    EXPECT_NEAR(r.emissions_rate, r.emissions / r.duration, 1e-18);
  }
  job.finished = *ParseTime("2026-11-28T10:02:00Z");
  const EmissionsRecord total = EmissionsTotal(job, epochs);
  EXPECT_DOUBLE_EQ(total.duration, 113.5);
  EXPECT_NEAR(total.ram_power, 20.0, 1e-9);
  // An epoch stored before the span was recorded keeps wall_s and its own powers.
  epochs[0].energy_s.reset();
  EXPECT_DOUBLE_EQ(EmissionsRows(job, epochs)[0].duration, 50.0);
  EXPECT_DOUBLE_EQ(EmissionsRows(job, epochs)[0].ram_power, 20 * 52.0 / 50);
}

// country_iso_code and country_name come from the zone (issue 19): CodeCarbon's
// dashboard upper-cases the code and fails on an empty one.
TEST(EmissionsCsv, TheCountryComesFromTheZone) {
  auto is = [](const char* zone, const char* iso3, const char* name) {
    auto c = CountryOfZone(zone);
    ASSERT_TRUE(c) << zone;
    EXPECT_EQ(c->iso3, iso3) << zone;
    EXPECT_EQ(c->name, name) << zone;
  };
  is("GB", "GBR", "United Kingdom");
  is("DE-LU", "DEU", "Germany");
  is("US-CAL-CISO", "USA", "United States");
  is("US-TEX-ERCO", "USA", "United States");
  is("AU-NSW", "AUS", "Australia");
  is("CA-ON", "CAN", "Canada");
  is("JP-TK", "JPN", "Japan");
  is("GB-NIR", "GBR", "United Kingdom");
  is("KR", "KOR", "South Korea");        // CodeCarbon's name, not iso-codes' "Korea, Republic of"
  is("GBR", "GBR", "United Kingdom");    // carbon-worker --country GBR
  is("fr", "FRA", "France");
  is("AQ", "ATA", "Antarctica");         // not in CodeCarbon's table: iso-codes' name
  for (const char* none : {"", "mock", "XX", "ZZZ", "EU-WEST", "-GB", "GBRX"}) EXPECT_FALSE(CountryOfZone(none)) << none;
}

// region as CodeCarbon fills it (issue 38): only below the country, with the
// names of its own tables (usa_emissions.json, canada_energy_mix.json);
// empty for a country-level zone. Every zone of the recorded Electricity Maps
// traces is here.
TEST(EmissionsCsv, TheRegionIsSetOnlyBelowTheCountryAsCodeCarbonNamesIt) {
  const std::pair<const char*, const char*> cases[] = {
      {"GB", ""}, {"DE-LU", ""}, {"AU-NSW", ""}, {"FR", ""}, {"GBR", ""}, {"JP-TK", ""}, {"mock", ""},
      {"US-MIDA-PJM", ""}, {"US-MIDW-MISO", ""}, {"US-NE-ISNE", ""}, {"US-NW-BPAT", ""}, {"US-SE-SOCO", ""},
      {"US-CAL-CISO", "california"}, {"US-CAL-LDWP", "california"}, {"us-cal-ciso", "california"},
      {"US-TEX-ERCO", "texas"}, {"US-NY-NYIS", "new york"}, {"US-FLA-FPL", "florida"}, {"US-HI-OA", "hawaii"},
      {"US-SW-AZPS", "arizona"}, {"US-NW-SCL", "washington"}, {"US-CAR-SC", "south carolina"},
      {"US-CAR-SCEG", "south carolina"}, {"US-CAR-DUK", ""}, {"US-SW-SRPX", ""},
      {"CA-ON", "ontario"}, {"CA-QC", "quebec"}, {"CA-BC", "british columbia"}, {"CA-NL-NF", "newfoundland and labrador"},
      {"CA", ""}};
  for (const auto& [zone, region] : cases) EXPECT_EQ(RegionOfZone(zone), region) << zone;
  // Rows: the country from the zone, the region below it, and a country the
  // dashboard can upper-case where the zone names none.
  JobRecord job;
  job.id = 1;
  job.name = "r";
  EpochRecord e;
  e.epoch = 1;
  e.energy_kwh = e.cpu_kwh = 0.001;
  e.energy_s = 10;
  for (const auto& [zone, iso, name, region] :
       std::vector<std::tuple<std::string, std::string, std::string, std::string>>{
           {"GB", "GBR", "United Kingdom", ""}, {"US-CAL-CISO", "USA", "United States", "california"},
           {"CA-ON", "CAN", "Canada", "ontario"}, {"mock", "WLD", "World", ""}, {"", "WLD", "World", ""}}) {
    e.zone = zone;
    const EmissionsRecord r = EmissionsRows(job, {e})[0];
    EXPECT_EQ(r.country_iso_code, iso) << zone;
    EXPECT_EQ(r.country_name, name) << zone;
    EXPECT_EQ(r.region, region) << zone;
  }
}

TEST(EmissionsCsv, RowsCarryTheMachineAndItsLoad) {
  JobRecord job;
  job.id = 3;
  job.name = "host";
  std::vector<EpochRecord> epochs(2);
  for (int i = 0; i < 2; ++i) {
    EpochRecord& e = epochs[i];
    e.job_id = 3;
    e.epoch = i + 1;
    e.attempt = 1;
    e.at = *ParseTime("2026-11-28T10:00:00Z");
    e.energy_s = i ? 30.0 : 10.0;
    e.zone = "DE-LU";
    e.host.cpu_model = "AMD EPYC 7513 32-Core Processor";
    e.host.cpu_count = 32;
    e.host.gpu_model = "1 x NVIDIA H100 80GB HBM3";
    e.host.gpu_count = 1;
    e.host.ram_total_gib = 125.7;
    e.host.os = "Linux-6.8.0-x86_64-with-glibc2.39";
    e.host.cpu_utilization_pct = i ? 20.0 : 100.0;
    e.host.ram_utilization_pct = i ? 40.0 : 20.0;
    e.host.ram_used_gib = i ? 50.0 : 25.0;
  }
  const auto rows = EmissionsRows(job, epochs);
  ASSERT_EQ(rows.size(), 2u);
  const std::string csv = EmissionsCsvRow(rows[0]);
  EXPECT_NE(csv.find(",Germany,DEU,,,,Linux-6.8.0-x86_64-with-glibc2.39,,,32,AMD EPYC 7513 32-Core Processor,1,"
                     "1 x NVIDIA H100 80GB HBM3,,,125.7,machine,100.0,0.0,20.0,25.0,N,"),
            std::string::npos)
      << csv;
  // The run's row: utilisation averaged over the run, each epoch by its duration.
  const EmissionsRecord t = EmissionsTotal(job, epochs);
  EXPECT_DOUBLE_EQ(t.cpu_utilization_percent, (100.0 * 10 + 20.0 * 30) / 40);
  EXPECT_DOUBLE_EQ(t.ram_utilization_percent, (20.0 * 10 + 40.0 * 30) / 40);
  EXPECT_DOUBLE_EQ(t.ram_used_gb, (25.0 * 10 + 50.0 * 30) / 40);
  EXPECT_EQ(t.country_iso_code, "DEU");
  // A row stored before the worker reported its machine names carbond's own OS, in the same form.
  epochs[0].host = EpochHost{};
  const EmissionsRecord old = EmissionsRows(job, epochs)[0];
  EXPECT_EQ(old.os, PlatformName());
  EXPECT_EQ(old.os.rfind("Linux-", 0), 0u) << old.os;
  EXPECT_NE(old.os.find("-with-glibc"), std::string::npos) << old.os;
  EXPECT_EQ(old.os.find("--"), std::string::npos) << old.os;
  EXPECT_FALSE(old.cpu_count);
  // tracking_mode: the epoch's (issue 21); a row stored before v14 was machine mode.
  EXPECT_EQ(old.tracking_mode, "machine");
  epochs[1].tracking_mode = "process";
  EXPECT_NE(EmissionsCsvRow(EmissionsRows(job, epochs)[1]).find(",process,"), std::string::npos);
}

}  // namespace
}  // namespace carbon::energy

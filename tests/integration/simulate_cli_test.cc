// carbonctl simulate as a user runs it: real trace files, the real binary.
// The traces are the mock grid's daily cycle written as Electricity Maps
// yearly CSVs (60 days each; the simulator needs 35 days of history).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "common/mock_intensity.h"
#include "common/time_util.h"
#include "tests/support/daemon_process.h"

namespace carbon {
namespace {

using fakes::RunCommand;
using fakes::TempDir;
using nlohmann::json;

std::string WriteTrace(const std::string& path, int utc_offset_minutes) {
  MockIntensityParams p;
  p.step = std::chrono::hours(1);
  p.noise = 20;
  p.utc_offset_minutes = utc_offset_minutes;
  const Timestamp start = *ParseTime("2024-01-01T00:00:00Z");
  std::ofstream out(path);
  out << "Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO\u2082eq/kWh (direct),"
         "Carbon Intensity gCO\u2082eq/kWh (LCA),Low Carbon Percentage,Renewable Percentage,Data Source,"
         "Data Estimated,Data Estimation Method\n";
  for (const IntensityPoint& pt : MockIntensityModel(p).Range(start, start + std::chrono::hours(24 * 60))) {
    const std::string t = FormatTime(pt.time);
    out << t.substr(0, 10) << " " << t.substr(11, 8) << ",Mock,Mock,MOCK," << pt.gco2_per_kwh << ","
        << pt.gco2_per_kwh << ",50,50,mock,false,\n";
  }
  return path;
}

TEST(SimulateCli, EachTraceOnItsOwnOneJsonLineEachThenTheMeanShare) {
  TempDir dir;
  const std::string a = WriteTrace(dir / "a.csv", 0), b = WriteTrace(dir / "b.csv", 8 * 60);
  const std::vector<std::string> common = {CARBONCTL_BIN, "simulate", "--each", "--trace", a, "--trace", b,
                                           "--jobs", "60", "--policy", "forecast", "--forecast", "own"};
  std::vector<std::string> as_json = {CARBONCTL_BIN, "-o", "json"};
  as_json.insert(as_json.end(), common.begin() + 1, common.end());
  auto r = RunCommand(as_json);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::vector<json> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(json::parse(line));
  ASSERT_EQ(rows.size(), 2u) << r.out;
  EXPECT_EQ(rows[0]["trace"], a);
  EXPECT_EQ(rows[1]["trace"], b);
  for (const json& row : rows) {
    EXPECT_EQ(row["jobs"], 60);
    EXPECT_EQ(row["forecast"], "own");
    EXPECT_GT(row["share_of_oracle"].get<double>(), 0.3) << row.dump();  // the mock's cycle is easy to forecast
    EXPECT_LE(row["policy_mean_gco2_per_kwh"].get<double>(), row["immediate_mean_gco2_per_kwh"].get<double>());
  }
  // The same run of each trace alone gives the same row.
  auto alone = RunCommand({CARBONCTL_BIN, "-o", "json", "simulate", "--trace", b, "--jobs", "60", "--policy",
                           "forecast", "--forecast", "own"});
  ASSERT_EQ(alone.exit_code, 0) << alone.err;
  EXPECT_DOUBLE_EQ(json::parse(alone.out)["share_of_oracle"].get<double>(), rows[1]["share_of_oracle"].get<double>());
  // As text: a row per trace and the summary.
  auto text = RunCommand(common);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("2 traces in "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("share of the oracle's saving mean"), std::string::npos) << text.out;
  // A trace that cannot be read is named, and nothing else is claimed.
  auto bad = RunCommand({CARBONCTL_BIN, "simulate", "--each", "--trace", a, "--trace", dir / "missing.csv"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("missing.csv"), std::string::npos) << bad.err;
  EXPECT_EQ(bad.out.find("traces in"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace carbon

// carbond as a real process polling grid intensity: the embedded mock, a
// recorded trace, and a UK API stand-in that hangs while the daemon's own API
// must keep answering.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "daemon/store/db.h"
#include "proto-less-api/client.h"
#include "tests/support/daemon_process.h"
#include "tests/support/fake_upstream.h"
#include "tests/support/prometheus_parser.h"

namespace carbon {
namespace {

using fakes::DaemonProcess;
using fakes::TempDir;
using nlohmann::json;
using namespace std::chrono_literals;

const std::string kWorker = FAKE_WORKER_BIN;

TEST(IntensityDaemon, EmbeddedMockServesCarbonctlIntensityAndStoresReadings) {
  TempDir dir;
  DaemonProcess d(dir, kWorker, "clock: {mode: virtual, start: 2026-11-26T12:00:00Z, speed: 60}\n");
  ASSERT_TRUE(d.Start()) << d.Log();
  auto text = d.Ctl({"intensity"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("zone GB: "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("from mock"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("next 48 h, one column per hour"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("cleanest 3h: "), std::string::npos) << text.out;
  auto js = d.Ctl({"-o", "json", "intensity", "--window", "2h"});
  ASSERT_EQ(js.exit_code, 0) << js.err;
  json j = json::parse(js.out);
  EXPECT_EQ(j["current"]["source"], "mock");
  ASSERT_FALSE(j["cleanest_window"].is_null());
  // The mock's trough is at 03:00 (Saturday 28th is the lowest: weekends run lower).
  std::string start = j["cleanest_window"]["start"];
  EXPECT_EQ(start.substr(0, 10), "2026-11-28") << start;
  int hour = std::stoi(start.substr(11, 2));
  EXPECT_GE(hour, 1);
  EXPECT_LE(hour, 3) << start;
  auto bad = d.Ctl({"intensity", "--zone", "ZZ"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("zone 'ZZ' is not polled"), std::string::npos) << bad.err;
  d.Kill(SIGTERM);
  auto db = sql::Database::Open(d.db(), {5000, /*read_only=*/true});
  ASSERT_TRUE(db.ok());
  auto st = (*db)->Prepare("SELECT COUNT(*), MIN(source), MAX(fallback IS NULL) FROM intensity_readings");
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(*st->Step());
  EXPECT_GE(st->ColumnInt(0), 1);
  EXPECT_EQ(st->ColumnText(1), "mock");
  auto fc = (*db)->Prepare("SELECT COUNT(*) FROM intensity_forecasts");
  ASSERT_TRUE(*fc->Step());
  EXPECT_GE(fc->ColumnInt(0), 96);
}

TEST(IntensityDaemon, TraceReplayReturnsTheRecordedValue) {
  TempDir dir;
  const std::string trace = std::string(CARBON_SOURCE_DIR) + "/tests/fixtures/traces/lets-wait-awhile_gb_ci_head.csv";
  DaemonProcess d(dir, kWorker,
                  "clock: {mode: virtual, start: 2019-12-20T00:40:00Z, speed: 1}\n"
                  "intensity:\n  chain: [trace]\n  trace: {path: " + trace + ", loop: false}\n");
  ASSERT_TRUE(d.Start()) << d.Log();
  api::Client c(d.socket());
  auto cur = c.Intensity("");
  ASSERT_TRUE(cur.ok()) << cur.status().ToString();
  EXPECT_EQ((*cur)["source"], "trace");
  EXPECT_EQ((*cur)["time"], "2019-12-20T00:30:00.000Z");
  EXPECT_DOUBLE_EQ((*cur)["gco2_per_kwh"].get<double>(), 135.08869637679902);  // gb_ci.csv row 3
}

TEST(IntensityDaemon, BadTraceStopsStartWithFileLineAndColumn) {
  TempDir dir;
  std::string csv = dir / "bad.csv";
  std::ofstream(csv) << "Time,Carbon Intensity\n2020-01-01 00:00:00,100\n2020-01-01 00:30:00,-\n";
  DaemonProcess d(dir, kWorker, "intensity:\n  chain: [trace, mock]\n  trace: {path: " + csv + "}\n");
  EXPECT_FALSE(d.Start());
  EXPECT_EQ(d.Wait(), 1);
  EXPECT_NE(d.Log().find(csv + ":3:21: '-' is not a number"), std::string::npos) << d.Log();
  DaemonProcess missing(dir, kWorker, "intensity:\n  chain: [trace]\n");
  EXPECT_FALSE(missing.Start());
  EXPECT_NE(missing.Log().find("intensity.trace.path"), std::string::npos) << missing.Log();
}

TEST(IntensityDaemon, ApiKeepsAnsweringWhileTheUpstreamHangsThenFallsBack) {
  TempDir dir;
  fakes::FakeUpstream upstream(dir.path());
  upstream.set_handler([](const fakes::UpstreamRequest&) {
    return fakes::UpstreamReply{200, "{}", {}, 0ms, fakes::UpstreamReply::Kind::kHang};
  });
  DaemonProcess d(dir, kWorker,
                  "intensity:\n  chain: [uk, mock]\n  uk: {base_url: '" + upstream.http_url() +
                      "'}\n  http: {request_timeout: 3s, retries: 0}\n");
  ASSERT_TRUE(d.Start()) << d.Log();
  api::Client c(d.socket());
  auto hang_start = std::chrono::steady_clock::now();
  // While both polls hang, the API answers at once.
  int answered = 0;
  auto worst = 0ms;
  while (std::chrono::steady_clock::now() - hang_start < 2s) {
    auto t0 = std::chrono::steady_clock::now();
    auto h = c.Health();
    worst = std::max(worst, std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0));
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    ++answered;
    if (answered == 1) {
      EXPECT_EQ((*h)["intensity"]["zones"]["GB"]["poll_in_flight"], true) << h->dump();
      EXPECT_TRUE((*h)["intensity"]["zones"]["GB"]["source"].is_null());
    }
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_GE(answered, 10);
  EXPECT_LT(worst, 1000ms) << "a health request waited on the hanging upstream";
  auto job = d.Ctl({"submit", (dir / "j.yaml")});  // a missing file: refused locally, fine
  EXPECT_EQ(job.exit_code, 2);
  EXPECT_GE(upstream.request_count(), 2u);
  // After the 3 s timeout: the mock, with the reason.
  json h;
  for (int i = 0; i < 100; ++i) {
    h = *c.Health();
    if (h["intensity"]["zones"]["GB"]["source"] == "mock") break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(h["intensity"]["zones"]["GB"]["source"], "mock") << h.dump();
  EXPECT_EQ(h["intensity"]["zones"]["GB"]["fallback"], true);
  std::string reason = h["intensity"]["zones"]["GB"]["reason"];
  EXPECT_NE(reason.find("uk: GET http://127.0.0.1:"), std::string::npos) << reason;
  EXPECT_NE(reason.find("timed out after 3s"), std::string::npos) << reason;
  auto text = d.Ctl({"intensity"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("fallback: uk: GET"), std::string::npos) << text.out;
  // /metrics counts the failed fetches and shows the intensity in use.
  auto m = c.Do("GET", "/metrics");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->status, 200);
  auto p = fakes::ParsePrometheus(m->body);
  for (const auto& e : p.errors) ADD_FAILURE() << e;
  EXPECT_GE(p.Value("carbond_intensity_fetch_errors_total", {{"source", "uk"}, {"kind", "unavailable"}}), 1)
      << m->body;
  EXPECT_GT(p.Value("carbond_grid_intensity_gco2_per_kwh", {{"zone", "GB"}, {"source", "mock"}}), 0) << m->body;
  EXPECT_GT(p.Value("carbond_grid_forecast_gco2_per_kwh", {{"zone", "GB"}, {"source", "mock"}, {"hours_ahead", "24"}}),
            0)
      << m->body;
  EXPECT_GE(p.Value("carbond_api_requests_total", {{"route", "/v1/health"}, {"method", "GET"}, {"code", "200"}}), 10);
}

}  // namespace
}  // namespace carbon

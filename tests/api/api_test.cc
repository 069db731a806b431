#include "proto-less-api/api.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>
#include <sstream>

#include "common/time_util.h"
#include "daemon/http/api_router.h"
#include "daemon/intensity/local_sources.h"
#include "daemon/store/sqlite_intensity_store.h"
#include "daemon/store/sqlite_job_store.h"
#include "proto-less-api/intensity_chart.h"
#include "tests/support/fakes.h"
#include "tests/support/files.h"
#include "tests/support/prometheus_parser.h"

namespace carbon {
namespace {

using nlohmann::json;

TEST(Api, ErrorCodesMapToHttpInOnePlace) {
  EXPECT_EQ(api::HttpStatusFor(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(api::HttpStatusFor(StatusCode::kPermissionDenied), 403);
  EXPECT_EQ(api::HttpStatusFor(StatusCode::kNotFound), 404);
  EXPECT_EQ(api::HttpStatusFor(StatusCode::kFailedPrecondition), 409);
  EXPECT_EQ(api::HttpStatusFor(StatusCode::kResourceExhausted), 413);
  EXPECT_EQ(api::HttpStatusFor(StatusCode::kUnavailable), 503);
}

TEST(Api, ErrorBodyRoundTripsThroughTheClientSide) {
  Status st = InvalidArgument("bad epochs", "train.epochs");
  json body = json::parse(api::ErrorBody(st));
  EXPECT_EQ(body["error"]["code"], "INVALID_ARGUMENT");
  EXPECT_EQ(body["error"]["message"], "bad epochs");
  EXPECT_EQ(body["error"]["field"], "train.epochs");
  Status back = api::StatusFromResponse(400, api::ErrorBody(st));
  EXPECT_EQ(back.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(back.field(), "train.epochs");
  EXPECT_EQ(api::StatusFromResponse(503, "gateway says no").code(), StatusCode::kUnavailable);
}

TEST(Api, ParsesTargets) {
  auto t = api::ParseTarget("/v1/jobs?state=queued&limit=5&filename=my%20job.yaml");
  EXPECT_EQ(t.path, "/v1/jobs");
  EXPECT_EQ(t.query["state"], "queued");
  EXPECT_EQ(t.query["limit"], "5");
  EXPECT_EQ(t.query["filename"], "my job.yaml");
}

TEST(Api, JobJsonRoundTrips) {
  JobRecord j;
  j.id = 7;
  j.name = "x";
  j.state = JobState::kRunning;
  j.submitted = *ParseTime("2026-11-26T12:00:00Z");
  j.started = *ParseTime("2026-11-26T12:01:00Z");
  j.exit_status = 3;
  j.progress = R"({"event":"epoch","epoch":2})";
  auto back = api::JobFromJson(api::JobToJson(j, true));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->id, 7);
  EXPECT_EQ(back->state, JobState::kRunning);
  EXPECT_EQ(back->submitted, j.submitted);
  EXPECT_EQ(*back->started, *j.started);
  EXPECT_FALSE(back->finished.has_value());
  EXPECT_EQ(*back->exit_status, 3);
  EXPECT_EQ(json::parse(back->progress)["epoch"], 2);
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = SqliteJobStore::Open(dir_ / "carbond.db").value();
    sched_ = std::make_unique<Scheduler>(*store_, exec_, policies_, clock_,
                                         SchedulerOptions{1, 3, dir_ / "runs"});
    exec_.SetListener(sched_.get());
    router_ = std::make_unique<ApiRouter>(*sched_, *store_, RouterInfo{"test", "db"});
  }
  api::Response Do(const std::string& method, const std::string& target,
                   const std::string& body = "", uint32_t uid = 1000,
                   const std::string& ct = "application/yaml") {
    api::Request r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.content_type = ct;
    r.peer_uid = uid;
    return router_->Handle(r);
  }
  fakes::TempDir dir_;
  std::unique_ptr<SqliteJobStore> store_;
  fakes::FakeExecutor exec_;
  PolicyRegistry policies_;
  FakeClock clock_{*ParseTime("2026-11-26T12:00:00Z")};
  std::unique_ptr<Scheduler> sched_;
  std::unique_ptr<ApiRouter> router_;
};

TEST_F(RouterTest, SubmitReturns201WithIdAndOwner) {
  auto r = Do("POST", "/v1/jobs", "name: a\n", 1234);
  EXPECT_EQ(r.status, 201);
  json j = json::parse(r.body);
  EXPECT_EQ(j["id"], 1);
  EXPECT_EQ(j["state"], "waiting");
  EXPECT_EQ(j["owner_uid"], 1234);
}

TEST_F(RouterTest, SubmitJsonBody) {
  auto r = Do("POST", "/v1/jobs", R"({"name":"j","train":{"epochs":1}})", 0, "application/json");
  EXPECT_EQ(r.status, 201) << r.body;
}

TEST_F(RouterTest, InvalidSpecIs400WithFieldAndFilename) {
  auto r = Do("POST", "/v1/jobs?filename=my.yaml", "name: a\ntrain:\n  epoch: 2\n");
  EXPECT_EQ(r.status, 400);
  json e = json::parse(r.body)["error"];
  EXPECT_EQ(e["code"], "INVALID_ARGUMENT");
  EXPECT_EQ(e["field"], "train.epoch");
  EXPECT_NE(e["message"].get<std::string>().find("at my.yaml:3:3"), std::string::npos);
  EXPECT_EQ(json::parse(Do("GET", "/v1/jobs").body)["jobs"].size(), 0u);
}

TEST_F(RouterTest, WrongContentTypeAndEmptyBody) {
  EXPECT_EQ(Do("POST", "/v1/jobs", "name: a\n", 0, "image/png").status, 415);
  EXPECT_EQ(Do("POST", "/v1/jobs", "").status, 400);
}

TEST_F(RouterTest, ListFiltersAndValidatesQuery) {
  Do("POST", "/v1/jobs", "name: a\n");
  Do("POST", "/v1/jobs", "name: b\n");
  sched_->Tick();
  json running = json::parse(Do("GET", "/v1/jobs?state=running").body);
  ASSERT_EQ(running["jobs"].size(), 1u);
  EXPECT_EQ(running["jobs"][0]["name"], "a");
  EXPECT_EQ(json::parse(Do("GET", "/v1/jobs?limit=1").body)["jobs"].size(), 1u);
  auto bad = Do("GET", "/v1/jobs?state=done");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["error"]["field"], "state");
  EXPECT_EQ(Do("GET", "/v1/jobs?limit=0").status, 400);
  EXPECT_EQ(Do("GET", "/v1/jobs?limit=abc").status, 400);
}

TEST_F(RouterTest, GetShowsSpecAndHistory) {
  Do("POST", "/v1/jobs", "name: a\n");
  sched_->Tick();
  auto r = Do("GET", "/v1/jobs/1");
  ASSERT_EQ(r.status, 200);
  json j = json::parse(r.body);
  EXPECT_EQ(j["spec"], "name: a\n");
  ASSERT_EQ(j["events"].size(), 3u);
  EXPECT_EQ(j["events"][2]["to"], "running");
  EXPECT_EQ(Do("GET", "/v1/jobs/99").status, 404);
}

TEST_F(RouterTest, EmissionsAsCodeCarbonCsvOrJsonAndTheTotalOnceDone) {
  Do("POST", "/v1/jobs", "name: a\ntrain: {epochs: 2}\n");
  sched_->Tick();
  for (int e : {1, 2})
    exec_.Event(1, fakes::WorkerEvent(json{{"event", "epoch"}, {"epoch", e},          {"epochs", 2},
                        {"wall_s", 30},     {"kg_co2", 0.001 * e}, {"energy", {{"energy_kwh", 0.01}}}}
                       .dump()));
  auto csv = Do("GET", "/v1/jobs/1/emissions?format=csv");
  ASSERT_EQ(csv.status, 200) << csv.body;
  EXPECT_EQ(csv.content_type, "text/csv; charset=utf-8");
  EXPECT_EQ(std::count(csv.body.begin(), csv.body.end(), '\n'), 3);  // header + 2 epochs, no total yet
  EXPECT_EQ(csv.body.rfind("timestamp,project_name,run_id,", 0), 0u);
  // The total is the run as one row, once it is over.
  auto early = Do("GET", "/v1/jobs/1/emissions?rows=total");
  EXPECT_EQ(early.status, 409) << early.body;
  EXPECT_NE(early.body.find("once it has succeeded"), std::string::npos) << early.body;
  exec_.Exit(1, 0);
  json rows = json::parse(Do("GET", "/v1/jobs/1/emissions").body);
  ASSERT_EQ(rows.size(), 2u);  // the epochs only: summing them gives the run, as CodeCarbon's tools do
  json total = json::parse(Do("GET", "/v1/jobs/1/emissions?rows=total").body);
  ASSERT_EQ(total.size(), 1u);
  EXPECT_EQ(total[0]["project_name"], "a");
  EXPECT_EQ(total[0]["run_id"], "carbond-job-1");
  EXPECT_NEAR(total[0]["emissions"].get<double>(), 0.003, 1e-15);
  EXPECT_NEAR(total[0]["energy_consumed"].get<double>(), 0.02, 1e-15);
  EXPECT_EQ(Do("GET", "/v1/jobs/1/emissions?rows=all").status, 400);
  auto bad = Do("GET", "/v1/jobs/1/emissions?format=xml");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["error"]["field"], "format");
  EXPECT_EQ(Do("GET", "/v1/jobs/9/emissions").status, 404);
  EXPECT_EQ(Do("POST", "/v1/jobs/1/emissions").status, 405);
}

TEST_F(RouterTest, WithBaselineAndCompareFromMeasuredEpochs) {
  auto r = Do("POST", "/v1/jobs?with_baseline=true", "name: aware\ntrain: {epochs: 1}\n");
  ASSERT_EQ(r.status, 201) << r.body;
  json cand = json::parse(r.body);
  EXPECT_EQ(cand["id"], 2);
  EXPECT_EQ(cand["baseline_id"], 1);
  sched_->Tick();  // the twin (immediate) runs
  exec_.Event(1, fakes::WorkerEvent(json{{"event", "epoch"}, {"epoch", 1}, {"epochs", 1}, {"test_accuracy", 0.7}, {"wall_s", 30},
                      {"peak_memory_bytes", 300 << 20}, {"kg_co2", 0.004}, {"energy", {{"energy_kwh", 0.02}}}}
                     .dump()));
  clock_.Advance(std::chrono::minutes(1));
  exec_.Exit(1, 0);
  auto c = Do("GET", "/v1/compare?candidate=2");
  ASSERT_EQ(c.status, 200) << c.body;
  json j = json::parse(c.body);
  EXPECT_EQ(j["baseline"]["job_id"], 1);
  EXPECT_EQ(j["baseline"]["state"], "succeeded");
  EXPECT_DOUBLE_EQ(j["baseline"]["kg_co2"].get<double>(), 0.004);
  EXPECT_DOUBLE_EQ(j["baseline"]["wall_s"].get<double>(), 60);
  EXPECT_TRUE(j["candidate"]["kg_co2"].is_null());  // has not run yet
  ASSERT_EQ(j["rows"].size(), 9u);
  EXPECT_EQ(j["rows"][0]["key"], "kg_co2");
  EXPECT_TRUE(j["rows"][0]["difference"].is_null());
  // Explicit ids work for any two jobs; bad ones are named.
  EXPECT_EQ(Do("GET", "/v1/compare?baseline=2&candidate=1").status, 200);
  auto none = Do("GET", "/v1/compare?candidate=1");
  EXPECT_EQ(none.status, 400);
  EXPECT_EQ(json::parse(none.body)["error"]["field"], "baseline");
  EXPECT_EQ(json::parse(Do("GET", "/v1/compare?candidate=x").body)["error"]["field"], "candidate");
  EXPECT_EQ(Do("GET", "/v1/compare").status, 400);
  EXPECT_EQ(Do("GET", "/v1/compare?candidate=9").status, 404);
  EXPECT_EQ(json::parse(Do("POST", "/v1/jobs?with_baseline=maybe", "name: a\n").body)["error"]["field"],
            "with_baseline");
}

TEST(Prometheus, TheTestParserIsStrict) {
  using fakes::ParsePrometheus;
  EXPECT_TRUE(ParsePrometheus("# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 2\n").errors.empty());
  for (const char* bad : {"a 1\n",                                                      // no TYPE
                          "# HELP a A.\n# TYPE a counter\na 1\n",                       // counter without _total
                          "# HELP a A.\n# TYPE a gauge\na{x=1} 1\n",                    // unquoted label
                          "# HELP a A.\n# TYPE a gauge\na 1\na 2\n",                    // repeated series
                          "# HELP a A.\n# TYPE a gauge\na one\n",                       // not a float
                          "# HELP a A.\n# TYPE a gauge\na{x=\"\\t\"} 1\n",              // bad escape
                          "# HELP a A.\n# TYPE a gauge\n# HELP b B.\n# TYPE b gauge\na 1\n",  // out of its family
                          "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                          "h_sum 1\nh_count 1\n",  // not cumulative
                          "# HELP a A.\n# TYPE a gauge\na 1"})                          // no final newline
    EXPECT_FALSE(ParsePrometheus(bad).errors.empty()) << bad;
}

TEST_F(RouterTest, MetricsInThePrometheusTextFormat) {
  Do("POST", "/v1/jobs", "name: a\ntrain: {epochs: 1}\n");
  Do("POST", "/v1/jobs", "name: b\n");
  Do("POST", "/v1/jobs", "not: [valid");  // a 400, counted
  sched_->Tick();
  exec_.Event(1, fakes::WorkerEvent(json{{"event", "epoch"}, {"epoch", 1}, {"epochs", 1}, {"wall_s", 10}, {"kg_co2", 0.002},
                      {"energy", {{"cpu_kwh", 0.001}, {"gpu_kwh", 0.0}, {"ram_kwh", 0.0005}, {"energy_kwh", 0.0015}}}}
                     .dump()));
  exec_.Exit(1, 0);
  sched_->Tick();
  Do("GET", "/v1/jobs/1");
  Do("GET", "/v1/jobs/1/emissions?format=csv");
  Do("GET", "/v1/nothing/here");
  auto r = Do("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  auto p = fakes::ParsePrometheus(r.body);
  for (const auto& e : p.errors) ADD_FAILURE() << e;
  EXPECT_EQ(p.types["carbond_jobs"], "gauge");
  EXPECT_EQ(p.Value("carbond_jobs", {{"state", "succeeded"}}), 1);
  EXPECT_EQ(p.Value("carbond_jobs", {{"state", "running"}}), 1);  // b took the freed slot
  EXPECT_EQ(p.Value("carbond_jobs", {{"state", "stopped_budget"}}), 0);
  EXPECT_NEAR(p.Value("carbond_energy_joules_total", {{"component", "cpu"}}), 3600, 1e-9);  // 0.001 kWh
  EXPECT_NEAR(p.Value("carbond_energy_joules_total", {{"component", "ram"}}), 1800, 1e-9);
  EXPECT_NEAR(p.Value("carbond_emissions_grams_total"), 2, 1e-12);
  EXPECT_EQ(p.Value("carbond_job_wait_seconds_count"), 2);
  EXPECT_EQ(p.Value("carbond_api_requests_total", {{"route", "/v1/jobs"}, {"method", "POST"}, {"code", "201"}}), 2);
  EXPECT_EQ(p.Value("carbond_api_requests_total", {{"route", "/v1/jobs"}, {"method", "POST"}, {"code", "400"}}), 1);
  EXPECT_EQ(p.Value("carbond_api_requests_total", {{"route", "/v1/jobs/{id}"}, {"method", "GET"}, {"code", "200"}}), 1);
  EXPECT_EQ(p.Value("carbond_api_requests_total",
                    {{"route", "/v1/jobs/{id}/emissions"}, {"method", "GET"}, {"code", "200"}}),
            1);
  EXPECT_EQ(p.Value("carbond_api_requests_total", {{"route", "other"}, {"method", "GET"}, {"code", "404"}}), 1);
  EXPECT_EQ(p.types["carbond_api_request_duration_seconds"], "histogram");
  EXPECT_EQ(p.Value("carbond_api_request_duration_seconds_count", {{"route", "/v1/jobs"}}), 3);
  EXPECT_EQ(p.Value("carbond_api_request_duration_seconds_bucket", {{"route", "/v1/jobs"}, {"le", "+Inf"}}), 3);
  EXPECT_FALSE(std::isnan(
      p.Value("carbond_api_request_duration_seconds_bucket", {{"route", "/v1/jobs"}, {"le", "0.0005"}})));
  EXPECT_EQ(Do("POST", "/metrics").status, 405);
}

TEST_F(RouterTest, CancelChecksOwnership) {
  Do("POST", "/v1/jobs", "name: a\n", 1000);
  EXPECT_EQ(Do("POST", "/v1/jobs/1/cancel", "", 2000).status, 403);
  auto ok = Do("POST", "/v1/jobs/1/cancel", "", 1000);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(json::parse(ok.body)["state"], "cancelled");
  EXPECT_EQ(Do("POST", "/v1/jobs/1/cancel", "", 1000).status, 409);
}

TEST_F(RouterTest, HealthReportsQueueAndDatabase) {
  Do("POST", "/v1/jobs", "name: a\n");
  json h = json::parse(Do("GET", "/v1/health").body);
  EXPECT_EQ(h["status"], "ok");
  EXPECT_EQ(h["version"], "test");
  EXPECT_EQ(h["database"]["ok"], true);
  EXPECT_EQ(h["queue"]["waiting"], 1);
  EXPECT_EQ(h["queue"]["queued"], 0);
  EXPECT_EQ(h["queue"]["running"], 0);
  EXPECT_TRUE(h.contains("uptime_s"));
}

// The route table and the API's description name the same routes.
TEST_F(RouterTest, EveryRouteIsInTheOpenApiDescriptionAndBack) {
  const std::string spec = fakes::ReadSourceFile("proto-less-api/openapi.yaml");
  std::set<std::string> documented;  // "GET /v1/jobs"
  std::string path;
  std::istringstream in(spec);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("  /", 0) == 0 && line.back() == ':') path = line.substr(2, line.size() - 3);
    else if (line.rfind("  ", 0) != 0) path.clear();
    else if (!path.empty())
      for (const char* m : {"get", "post", "put", "delete"})
        if (line == std::string("    ") + m + ":") {
          std::string up = m;
          for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          documented.insert(up + " " + path);
        }
  }
  ASSERT_GE(documented.size(), 13u);
  // Two spellings the description leaves out: a trailing slash, the page's file name.
  const std::set<std::string> aliases = {"GET /v1/jobs/{id}/", "GET /index.html"};
  std::set<std::string> routed;
  for (const std::string& r : router_->Routes()) {
    routed.insert(r);
    if (!aliases.count(r)) {
      EXPECT_TRUE(documented.count(r)) << r << " is routed but not in openapi.yaml";
    }
  }
  for (const std::string& d : documented) {
    EXPECT_TRUE(routed.count(d)) << d << " is in openapi.yaml but not routed";
  }
}

TEST_F(RouterTest, UnknownRoutesAndMethods) {
  EXPECT_EQ(Do("GET", "/v2/jobs").status, 404);
  auto del = Do("DELETE", "/v1/jobs");
  EXPECT_EQ(del.status, 405);
  EXPECT_NE(del.body.find("method DELETE is not allowed on /v1/jobs; use GET or POST"), std::string::npos) << del.body;
  auto get_cancel = Do("GET", "/v1/jobs/1/cancel");
  EXPECT_EQ(get_cancel.status, 405);
  EXPECT_NE(get_cancel.body.find("use POST"), std::string::npos) << get_cancel.body;
  EXPECT_EQ(Do("GET", "/v1/jobs/abc").status, 404);
  EXPECT_EQ(Do("GET", "/v1/jobs/1x").status, 404);
  EXPECT_EQ(Do("GET", "/v1/jobs//").status, 404);
  EXPECT_EQ(Do("GET", "/v1/jobs/99999999999999999999999").status, 404);
  EXPECT_EQ(Do("GET", "/v1/jobs/1/emissions/x").status, 404);
  // Every route's answer is counted under its pattern; /v1/totals and
  // /v1/events too (they once fell under "other").
  EXPECT_EQ(Do("GET", "/v1/totals").status, 200);
  auto p = fakes::ParsePrometheus(Do("GET", "/metrics").body);
  EXPECT_EQ(p.Value("carbond_api_requests_total", {{"route", "/v1/totals"}, {"method", "GET"}, {"code", "200"}}), 1);
  EXPECT_EQ(p.Value("carbond_api_requests_total", {{"route", "/v1/jobs"}, {"method", "DELETE"}, {"code", "405"}}), 1);
  EXPECT_EQ(p.Value("carbond_api_requests_total", {{"route", "other"}, {"method", "GET"}, {"code", "404"}}), 6);
}

TEST_F(RouterTest, IntensityRoutesAnswerFromTheServiceAndTheStore) {
  EXPECT_EQ(Do("GET", "/v1/intensity").status, 503);  // not configured
  SqliteIntensityStore istore(store_->db());
  std::vector<std::unique_ptr<IntensitySource>> chain;
  chain.push_back(std::make_unique<MockSource>(MockIntensityParams{}));
  IntensityService svc(std::move(chain), istore, clock_, {});
  router_->set_intensity(&svc, &istore, &clock_);
  auto none = Do("GET", "/v1/intensity");
  EXPECT_EQ(none.status, 503);
  EXPECT_NE(none.body.find("no intensity reading yet for zone GB"), std::string::npos);

  svc.PollForecast();
  svc.PollCurrent();
  clock_.Advance(std::chrono::minutes(3));
  auto cur = Do("GET", "/v1/intensity");
  ASSERT_EQ(cur.status, 200) << cur.body;
  json c = json::parse(cur.body);
  EXPECT_EQ(c["zone"], "GB");
  EXPECT_EQ(c["source"], "mock");
  EXPECT_EQ(c["fallback"], false);
  EXPECT_EQ(c["time"], "2026-11-26T12:00:00.000Z");
  EXPECT_DOUBLE_EQ(c["age_s"].get<double>(), 180.0);
  EXPECT_EQ(c["period_s"], 1800);

  auto fc = Do("GET", "/v1/intensity/forecast?zone=GB");
  ASSERT_EQ(fc.status, 200) << fc.body;
  json f = json::parse(fc.body);
  EXPECT_EQ(f["source"], "mock");
  EXPECT_EQ(f["issued_at"], "2026-11-26T12:00:00.000Z");
  EXPECT_EQ(f["points"].size(), 96u);  // 48 h of half-hours from 12:00

  auto hist = Do("GET", "/v1/intensity/history?from=2026-11-26T00:00:00Z&to=2026-11-27T00:00:00Z");
  ASSERT_EQ(hist.status, 200) << hist.body;
  json h = json::parse(hist.body);
  ASSERT_EQ(h["readings"].size(), 1u);
  EXPECT_EQ(h["readings"][0]["source"], "mock");
  EXPECT_TRUE(h["readings"][0]["fallback"].is_null());

  auto bad = Do("GET", "/v1/intensity/history?from=yesterday");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["error"]["field"], "from");
  EXPECT_EQ(Do("GET", "/v1/intensity/history?from=2026-11-27T00:00:00Z&to=2026-11-26T00:00:00Z").status, 400);
  auto zone = Do("GET", "/v1/intensity?zone=DE");
  EXPECT_EQ(zone.status, 404);
  EXPECT_NE(zone.body.find("polled zones: GB"), std::string::npos);
  EXPECT_EQ(Do("POST", "/v1/intensity").status, 405);

  json health = json::parse(Do("GET", "/v1/health").body);
  EXPECT_EQ(health["intensity"]["chain"], json::array({"mock"}));
  EXPECT_EQ(health["intensity"]["zones"]["GB"]["source"], "mock");
  EXPECT_EQ(health["intensity"]["zones"]["GB"]["forecast_source"], "mock");

  // The CLI's view of the same bodies: 48 hourly columns, a 3 h window marked.
  std::string text = api::RenderIntensity(&c, "", &f, "", std::chrono::hours(3));
  EXPECT_NE(text.find("zone GB: "), std::string::npos) << text;
  EXPECT_NE(text.find("from mock, fetched 3 min ago"), std::string::npos) << text;
  EXPECT_NE(text.find("next 48 h, one column per hour"), std::string::npos) << text;
  EXPECT_NE(text.find("^^^"), std::string::npos) << text;
  EXPECT_EQ(text.find("^^^^"), std::string::npos) << text;
  json w = api::CleanestWindowJson(f, std::chrono::hours(3));
  ASSERT_FALSE(w.is_null());
  // The mock's trough is at 03:00: the cleanest 3 h starts in the small hours.
  auto start = ParseTime(w["start"].get<std::string>());
  int hour = static_cast<int>(std::chrono::duration_cast<std::chrono::hours>(start->time_since_epoch()).count() % 24);
  EXPECT_GE(hour, 0);
  EXPECT_LE(hour, 4);
  std::string down = api::RenderIntensity(nullptr, "no reading yet", nullptr, "no forecast", std::chrono::hours(3));
  EXPECT_NE(down.find("current intensity: not available (no reading yet)"), std::string::npos);
}

}  // namespace
}  // namespace carbon

// The HTTP client, the web sources and the fallback chain against a local
// HTTP/HTTPS server that replays recorded API bodies and misbehaves on demand.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/time_util.h"
#include "tests/support/files.h"
#include "daemon/intensity/http_client.h"
#include "daemon/core/intensity_service.h"
#include "daemon/intensity/local_sources.h"
#include "daemon/intensity/web_sources.h"
#include "daemon/store/sqlite_intensity_store.h"
#include "daemon/store/sqlite_job_store.h"
#include "tests/support/fake_upstream.h"
#include "tests/support/fakes.h"

namespace carbon {
namespace {

using fakes::UpstreamReply;
using fakes::UpstreamRequest;
using Kind = UpstreamReply::Kind;
using namespace std::chrono_literals;

std::string Fixture(const std::string& rel) { return fakes::ReadSourceFile("tests/fixtures/" + rel); }

Timestamp T(const char* s) { return *ParseTime(s); }

bool Has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class HttpTest : public ::testing::Test {
 protected:
  HttpTest() : upstream_(dir_.path()) {}

  HttpClientOptions Options() {
    HttpClientOptions o;
    o.connect_timeout = 2s;
    o.request_timeout = 2s;
    o.retries = 2;
    o.backoff = 10ms;
    o.max_body_bytes = 64 * 1024;
    o.ca_file = upstream_.ca_file();
    return o;
  }

  StatusOr<HttpResponse> Get(HttpClient& client, const std::string& url,
                             const HttpClient::Headers& headers = {}) {
    std::optional<StatusOr<HttpResponse>> out;
    client.Get(url, headers, [&](StatusOr<HttpResponse> r) { out = std::move(r); });
    io_.restart();
    auto until = std::chrono::steady_clock::now() + 30s;
    while (!out && std::chrono::steady_clock::now() < until) io_.run_for(10ms);
    EXPECT_TRUE(out) << "no answer for " << url;
    return out ? std::move(*out) : StatusOr<HttpResponse>(Internal("no answer"));
  }

  void Serve(UpstreamReply reply) {
    upstream_.set_handler([reply](const UpstreamRequest&) { return reply; });
  }

  fakes::TempDir dir_;
  fakes::FakeUpstream upstream_;
  boost::asio::io_context io_;
};

TEST_F(HttpTest, GetsOverHttpAndHttpsWithTheTestCa) {
  Serve({200, R"({"ok":true})", {}, 0ms, Kind::kNormal});
  HttpClient client(io_, Options());
  auto plain = Get(client, upstream_.http_url() + "/intensity");
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(plain->body, R"({"ok":true})");
  auto tls = Get(client, upstream_.https_url() + "/intensity?zone=GB", {{"auth-token", "s3cret"}});
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();
  EXPECT_EQ(tls->status, 200);
  auto reqs = upstream_.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[1].target, "/intensity?zone=GB");
  EXPECT_EQ(reqs[1].headers["auth-token"], "s3cret");
  EXPECT_EQ(reqs[1].headers["host"], "127.0.0.1");
}

TEST_F(HttpTest, ACertificateNotSignedByATrustedCaFailsAtOnce) {
  Serve({200, "{}", {}, 0ms, Kind::kNormal});
  HttpClientOptions o = Options();
  o.ca_file.clear();  // the system CA store does not know the self-signed certificate
  HttpClient client(io_, o);
  auto r = Get(client, upstream_.https_url() + "/intensity", {{"auth-token", "s3cret"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Has(r.status().message(), "TLS handshake")) << r.status().message();
  EXPECT_FALSE(Has(r.status().message(), "attempts")) << "a bad certificate is not retried";
  EXPECT_FALSE(Has(r.status().message(), "s3cret"));
  EXPECT_EQ(upstream_.request_count(), 0u);
}

TEST_F(HttpTest, ServerErrorsAreRetriedThenReported) {
  Serve({500, "upstream exploded", {}, 0ms, Kind::kNormal});
  HttpClient client(io_, Options());
  auto r = Get(client, upstream_.https_url() + "/intensity");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Has(r.status().message(), "HTTP 500 (upstream exploded)")) << r.status().message();
  EXPECT_TRUE(Has(r.status().message(), "after 3 attempts")) << r.status().message();
  EXPECT_EQ(upstream_.request_count(), 3u);
}

TEST_F(HttpTest, RetryAfterIsHonouredOrTooLongFailsOver) {
  int n = 0;
  upstream_.set_handler([&n](const UpstreamRequest&) {
    if (n++ == 0) return UpstreamReply{429, "slow down", {{"Retry-After", "1"}}, 0ms, Kind::kNormal};
    return UpstreamReply{200, "{}", {}, 0ms, Kind::kNormal};
  });
  HttpClient client(io_, Options());
  auto start = std::chrono::steady_clock::now();
  auto r = Get(client, upstream_.http_url() + "/x");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->attempts, 2);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 900ms);  // waited as told, not the 10 ms backoff

  upstream_.clear_requests();
  Serve({429, "", {{"Retry-After", "3600"}}, 0ms, Kind::kNormal});
  auto r2 = Get(client, upstream_.http_url() + "/x");
  ASSERT_FALSE(r2.ok());
  EXPECT_TRUE(Has(r2.status().message(), "Retry-After 1h is longer than max_retry_after 2m"))
      << r2.status().message();
  EXPECT_EQ(upstream_.request_count(), 1u);
}

TEST_F(HttpTest, ASlowResponseTimesOut) {
  Serve({200, "{}", {}, 0ms, Kind::kHang});
  HttpClientOptions o = Options();
  o.request_timeout = 300ms;
  o.retries = 1;
  HttpClient client(io_, o);
  auto start = std::chrono::steady_clock::now();
  auto r = Get(client, upstream_.https_url() + "/intensity");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status().message(), "timed out after 300ms")) << r.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(upstream_.request_count(), 2u);
}

TEST_F(HttpTest, TruncatedOversizedAndRefusedResponses) {
  HttpClientOptions o = Options();
  o.retries = 0;
  HttpClient client(io_, o);
  Serve({200, R"({"data":[{"from":)", {}, 0ms, Kind::kTruncate});
  auto truncated = Get(client, upstream_.http_url() + "/intensity");
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Has(truncated.status().message(), "read")) << truncated.status().message();

  Serve({200, std::string(100 * 1024, 'x'), {}, 0ms, Kind::kNormal});
  auto huge = Get(client, upstream_.http_url() + "/intensity");
  EXPECT_EQ(huge.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(Has(huge.status().message(), "larger than 65536 bytes")) << huge.status().message();

  Serve({403, R"({"message":"forecast not in your plan"})", {}, 0ms, Kind::kNormal});
  EXPECT_EQ(Get(client, upstream_.http_url() + "/f").status().code(), StatusCode::kPermissionDenied);
  Serve({404, "", {}, 0ms, Kind::kNormal});
  EXPECT_EQ(Get(client, upstream_.http_url() + "/f").status().code(), StatusCode::kNotFound);
  Serve({200, "", {}, 0ms, Kind::kClose});
  EXPECT_EQ(Get(client, upstream_.http_url() + "/f").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(Get(client, "ftp://example.org/x").status().code(), StatusCode::kInvalidArgument);
}

// The service over a real SQLite store, a fake clock and the local upstream.
class FallbackTest : public HttpTest {
 protected:
  FallbackTest() : clock_(T("2023-03-15T04:10:00Z")) {
    auto s = SqliteJobStore::Open(dir_ / "carbond.db");
    EXPECT_TRUE(s.ok());
    jobs_ = std::move(*s);
    store_ = std::make_unique<SqliteIntensityStore>(jobs_->db());
  }

  std::unique_ptr<IntensityService> Service(std::vector<std::unique_ptr<IntensitySource>> chain,
                                            std::vector<std::string> zones = {"GB"}) {
    IntensityServiceOptions o;
    o.zones = std::move(zones);
    auto svc = std::make_unique<IntensityService>(std::move(chain), *store_, clock_, o);
    svc->on_update = [this](const ZoneIntensity&) { ++updates_; };
    return svc;
  }

  // Starts polls with `start` and runs the loop until `n` of them have
  // finished (local sources finish inside `start`).
  void Poll(const std::function<void()>& start, int n = 1) {
    int target = updates_ + n;
    start();
    io_.restart();
    auto until = std::chrono::steady_clock::now() + 30s;
    while (updates_ < target && std::chrono::steady_clock::now() < until) io_.run_for(10ms);
    ASSERT_GE(updates_, target) << "the poll did not finish";
  }

  std::vector<std::unique_ptr<IntensitySource>> UkThenMock(HttpClient& http, bool https = true) {
    std::vector<std::unique_ptr<IntensitySource>> chain;
    UkSourceConfig uk;
    uk.base_url = https ? upstream_.https_url() : upstream_.http_url();
    chain.push_back(std::make_unique<UkSource>(http, uk));
    chain.push_back(std::make_unique<MockSource>(MockIntensityParams{}));
    return chain;
  }

  // The UK API as recorded, serving the current half-hour and the 48 h forecast.
  UpstreamReply UkApi(const UpstreamRequest& r) {
    if (r.target == "/intensity")
      return {200, R"({"data":[{"from":"2023-03-15T04:00Z","to":"2023-03-15T04:30Z",
                  "intensity":{"forecast":217,"actual":null,"index":"high"}}]})", {}, 0ms, Kind::kNormal};
    if (Has(r.target, "/fw48h"))
      return {200, Fixture("uk-carbon-intensity/national_fw48h_2023-03-15T0331Z.json"), {}, 0ms, Kind::kNormal};
    return {404, "", {}, 0ms, Kind::kNormal};
  }

  FakeClock clock_;
  std::unique_ptr<SqliteJobStore> jobs_;
  std::unique_ptr<SqliteIntensityStore> store_;
  int updates_ = 0;
};

TEST_F(FallbackTest, UkNationalCurrentAndForecastAreStored) {
  upstream_.set_handler([this](const UpstreamRequest& r) { return UkApi(r); });
  HttpClient http(io_, Options());
  auto svc = Service(UkThenMock(http));
  Poll([&] { svc->PollForecast(); }, 1);
  Poll([&] { svc->PollCurrent(); }, 1);
  const ZoneIntensity* z = svc->Zone("GB");
  EXPECT_EQ(z->source, "uk");
  EXPECT_FALSE(z->fallback);
  ASSERT_TRUE(z->current);
  EXPECT_DOUBLE_EQ(z->current->point.gco2_per_kwh, 217);
  EXPECT_EQ(z->forecast_source, "uk");
  auto reqs = upstream_.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].target, "/intensity/2023-03-15T04:10Z/fw48h");
  auto fc = store_->LatestForecast("GB", clock_.Now());
  ASSERT_TRUE(fc.ok() && *fc);
  EXPECT_EQ((*fc)->source, "uk");
  EXPECT_EQ((*fc)->points.size(), 95u);  // 96 half-hours less the one already over
  auto rs = store_->Readings("GB", T("2023-03-15T00:00:00Z"), T("2023-03-16T00:00:00Z"));
  ASSERT_TRUE(rs.ok());
  ASSERT_EQ(rs->size(), 1u);
  EXPECT_EQ((*rs)[0].source, "uk");
  EXPECT_FALSE((*rs)[0].fallback);
}

TEST_F(FallbackTest, EveryUpstreamFailureEndsInTheNextSource) {
  struct Case {
    const char* name;
    UpstreamReply reply;
    bool bad_ca;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"500", {500, "oops", {}, 0ms, Kind::kNormal}, false, "HTTP 500"},
      {"429", {429, "", {{"Retry-After", "600"}}, 0ms, Kind::kNormal}, false, "Retry-After 10m"},
      {"slow", {200, "{}", {}, 0ms, Kind::kHang}, false, "timed out"},
      {"truncated", {200, R"({"data":[)", {}, 0ms, Kind::kTruncate}, false, "read"},
      {"garbage", {200, "<html>Service Unavailable</html>", {}, 0ms, Kind::kNormal}, false, "not valid JSON"},
      {"too large", {200, std::string(100 * 1024, ' '), {}, 0ms, Kind::kNormal}, false, "larger than"},
      {"bad certificate", {200, "{}", {}, 0ms, Kind::kNormal}, true, "TLS handshake"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Serve(c.reply);
    HttpClientOptions o = Options();
    o.request_timeout = 300ms;
    o.retries = 1;
    if (c.bad_ca) o.ca_file.clear();
    HttpClient http(io_, o);
    auto svc = Service(UkThenMock(http));
    Poll([&] { svc->PollCurrent(); }, 1);
    const ZoneIntensity* z = svc->Zone("GB");
    EXPECT_EQ(z->source, "mock");
    EXPECT_TRUE(z->fallback);
    EXPECT_TRUE(Has(z->reason, "uk: ")) << z->reason;
    EXPECT_TRUE(Has(z->reason, "https://127.0.0.1:")) << z->reason;
    EXPECT_TRUE(Has(z->reason, c.expect)) << z->reason;
    ASSERT_TRUE(z->current);
    ASSERT_TRUE(z->current->fallback);
    EXPECT_EQ(*z->current->fallback, z->reason);
    clock_.Advance(30min);  // the next case's reading is a new row
  }
  // Each fallback reading was stored with its reason.
  auto rs = store_->Readings("GB", T("2023-03-15T00:00:00Z"), T("2023-03-16T00:00:00Z"));
  ASSERT_TRUE(rs.ok());
  EXPECT_EQ(rs->size(), cases.size());
  for (const auto& r : *rs) {
    EXPECT_EQ(r.source, "mock");
    EXPECT_TRUE(r.fallback);
  }
}

TEST_F(FallbackTest, AStoredForecastComesBeforeTheNextSource) {
  upstream_.set_handler([this](const UpstreamRequest& r) { return UkApi(r); });
  HttpClient http(io_, Options());
  auto svc = Service(UkThenMock(http));
  Poll([&] { svc->PollForecast(); }, 1);
  // The network goes away.
  Serve({200, "", {}, 0ms, Kind::kClose});
  clock_.Advance(2h);  // 06:10: the forecast issued at 04:10 covers it
  Poll([&] { svc->PollCurrent(); }, 1);
  const ZoneIntensity* z = svc->Zone("GB");
  EXPECT_EQ(z->source, "uk");
  EXPECT_TRUE(z->fallback);
  EXPECT_TRUE(Has(z->reason, "using the stored forecast issued by uk at 2023-03-15T04:10:00.000Z"))
      << z->reason;
  ASSERT_TRUE(z->current);
  EXPECT_TRUE(z->current->point.estimated);
  EXPECT_EQ(z->current->point.time, T("2023-03-15T06:00:00Z"));
  // The forecast runs out after 48 h: then the next source.
  clock_.Advance(48h);
  Poll([&] { svc->PollCurrent(); }, 1);
  EXPECT_EQ(svc->Zone("GB")->source, "mock");
}

TEST_F(FallbackTest, StaleDataFallsBack) {
  upstream_.set_handler([](const UpstreamRequest&) {
    return UpstreamReply{200, R"({"data":[{"from":"2023-03-15T01:00Z","to":"2023-03-15T01:30Z",
        "intensity":{"forecast":100,"actual":101,"index":"low"}}]})", {}, 0ms, Kind::kNormal};
  });
  HttpClient http(io_, Options());
  auto svc = Service(UkThenMock(http));
  Poll([&] { svc->PollCurrent(); }, 1);
  EXPECT_EQ(svc->Zone("GB")->source, "mock");
  EXPECT_TRUE(Has(svc->Zone("GB")->reason, "uk: stale (newest point 2023-03-15T01:00:00.000Z is older than 1h)"))
      << svc->Zone("GB")->reason;
}

TEST_F(FallbackTest, UkRegionalByPostcodeAndZoneCheck) {
  upstream_.set_handler([](const UpstreamRequest& r) {
    if (r.target == "/regional/postcode/OX1")
      return UpstreamReply{200, Fixture("uk-carbon-intensity/regional_postcode_OX1_single-period_2026-09-29_cats.json"),
                           {}, 0ms, Kind::kNormal};
    return UpstreamReply{404, "", {}, 0ms, Kind::kNormal};
  });
  clock_.Set(T("2026-09-29T11:40:00Z"));
  HttpClient http(io_, Options());
  UkSourceConfig uk;
  uk.base_url = upstream_.http_url() + "/";
  uk.postcode = "OX1";
  std::vector<std::unique_ptr<IntensitySource>> chain;
  chain.push_back(std::make_unique<UkSource>(http, uk));
  chain.push_back(std::make_unique<StaticSource>(250));
  auto svc = Service(std::move(chain), {"GB", "FR"});
  Poll([&] { svc->PollCurrent(); }, 2);
  EXPECT_EQ(svc->Zone("GB")->source, "uk");
  EXPECT_DOUBLE_EQ(svc->Zone("GB")->current->point.gco2_per_kwh, 85);
  EXPECT_EQ(svc->Zone("FR")->source, "static");
  EXPECT_TRUE(Has(svc->Zone("FR")->reason, "uk serves zone GB only, not 'FR'"));
}

TEST_F(FallbackTest, ElectricityMapsTokenAndNoForecastPlanUsesOwnForecast) {
  const std::string token_file = dir_ / "em-token";
  std::ofstream(token_file) << "tok-123-SECRET\n";
  clock_.Set(T("2024-03-01T23:20:00Z"));
  upstream_.set_handler([](const UpstreamRequest& r) {
    if (r.headers.count("auth-token") == 0 || r.headers.at("auth-token") != "tok-123-SECRET")
      return UpstreamReply{401, R"({"message":"bad token"})", {}, 0ms, Kind::kNormal};
    if (r.target == "/v3/carbon-intensity/latest?zone=DE")
      return UpstreamReply{200, Fixture("electricitymaps/latest_DE_2024-03-01_green-elephpant.json"), {}, 0ms,
                           Kind::kNormal};
    if (Has(r.target, "/forecast"))
      return UpstreamReply{403, R"({"error":"Your plan does not include forecasts"})", {}, 0ms, Kind::kNormal};
    return UpstreamReply{404, "", {}, 0ms, Kind::kNormal};
  });
  // A day of stored history for carbond's own forecast.
  std::vector<StoredReading> past;
  for (int h = 0; h < 24; ++h)
    past.push_back({"DE", "electricitymaps",
                    IntensityPoint{T("2024-02-29T23:00:00Z") + std::chrono::hours(h), 1h, 300.0 + h, false},
                    T("2024-03-01T00:00:00Z"), std::nullopt});
  ASSERT_TRUE(store_->AddReadings(past).ok());

  HttpClient http(io_, Options());
  ElectricityMapsConfig em;
  em.base_url = upstream_.https_url() + "/v3";
  em.token_file = token_file;
  auto source = std::make_unique<ElectricityMapsSource>(http, em);
  EXPECT_EQ(source->token_origin(), "file " + token_file);
  std::vector<std::unique_ptr<IntensitySource>> chain;
  chain.push_back(std::move(source));
  chain.push_back(std::make_unique<MockSource>(MockIntensityParams{}));
  auto svc = Service(std::move(chain), {"DE"});
  Poll([&] { svc->PollCurrent(); }, 1);
  const ZoneIntensity* z = svc->Zone("DE");
  EXPECT_EQ(z->source, "electricitymaps");
  EXPECT_DOUBLE_EQ(z->current->point.gco2_per_kwh, 428);
  EXPECT_TRUE(z->current->point.estimated);
  Poll([&] { svc->PollForecast(); }, 1);
  EXPECT_EQ(z->forecast_source, "history");
  EXPECT_TRUE(Has(z->forecast_reason, "electricitymaps has no forecast access")) << z->forecast_reason;
  EXPECT_TRUE(Has(z->forecast_reason, "carbond's own forecast from stored history")) << z->forecast_reason;
  EXPECT_FALSE(Has(z->forecast_reason, "tok-123")) << "the token must never appear";
  auto fc = store_->LatestForecast("DE", clock_.Now());
  ASSERT_TRUE(fc.ok() && *fc);
  ASSERT_FALSE((*fc)->points.empty());
  // 2024-03-02T00:00: the stored day says 301 (its 00:00 reading); the latest
  // reading (428 at 23:00, 128 over the day before's 300) lifts it.
  auto p = PointAt((*fc)->points, T("2024-03-02T00:10:00Z"));
  ASSERT_TRUE(p);
  EXPECT_GT(p->gco2_per_kwh, 301 + 100);
  EXPECT_LT(p->gco2_per_kwh, 429 + 1);
  // The lift fades with the lead time: at 22:00 the forecast is close to the
  // stored day's 22:00 (323) again.
  auto later = PointAt((*fc)->points, T("2024-03-02T22:10:00Z"));
  ASSERT_TRUE(later);
  EXPECT_GE(later->gco2_per_kwh, 323);
  EXPECT_LT(later->gco2_per_kwh - 323, (p->gco2_per_kwh - 301) / 3);

  // Without a token the source fails over and says how to give one.
  ElectricityMapsConfig none;
  none.base_url = upstream_.https_url() + "/v3";
  none.token_env = "CARBOND_TEST_NO_SUCH_VAR";
  ElectricityMapsSource no_token(http, none);
  std::optional<Status> st;
  no_token.Current("DE", clock_.Now(), [&](StatusOr<IntensitySeries> r) { st = r.status(); });
  ASSERT_TRUE(st);
  EXPECT_TRUE(Has(st->message(), "no Electricity Maps token")) << st->message();
  for (const auto& r : upstream_.requests()) EXPECT_FALSE(Has(r.target, "tok-123"));
}

TEST_F(FallbackTest, EverySourceFailingKeepsTheLastReadingAndSaysWhy) {
  Serve({500, "", {}, 0ms, Kind::kNormal});
  HttpClientOptions o = Options();
  o.retries = 0;
  HttpClient http(io_, o);
  std::vector<std::unique_ptr<IntensitySource>> chain;
  UkSourceConfig uk;
  uk.base_url = upstream_.http_url();
  chain.push_back(std::make_unique<UkSource>(http, uk));
  auto svc = Service(std::move(chain));
  Poll([&] { svc->PollCurrent(); }, 1);
  const ZoneIntensity* z = svc->Zone("GB");
  EXPECT_EQ(z->source, "");
  EXPECT_TRUE(Has(z->reason, "every source failed: uk: GET http://127.0.0.1:")) << z->reason;
  EXPECT_FALSE(z->current);
}

// The recorded UK forecast with every value replaced by `value`, and the
// current half-hour at `value` too (an outage that served 0.0; a scaling error).
std::string UkForecastAt(const std::string& fixture, const std::string& value, size_t keep = 0) {
  nlohmann::json j = nlohmann::json::parse(fixture);
  auto& data = j["data"];
  if (keep) data.erase(data.begin() + static_cast<std::ptrdiff_t>(keep), data.end());
  if (!value.empty())
    for (auto& p : data) p["intensity"]["forecast"] = std::stod(value);
  return j.dump();
}

// Implausible answers are failed fetches with the reason; the chain goes on.
TEST_F(FallbackTest, ImplausibleValuesAreFailedFetchesAndTheChainTakesOver) {
  for (const std::string value : {"0", "99999"}) {  // negatives: the UK parser refuses them itself
    SCOPED_TRACE(value);
    upstream_.set_handler([this, value](const UpstreamRequest& r) -> UpstreamReply {
      if (r.target == "/intensity")
        return {200, R"({"data":[{"from":"2023-03-15T04:00Z","to":"2023-03-15T04:30Z","intensity":{"forecast":)" +
                         value + R"(,"actual":)" + value + R"(,"index":"low"}}]})",
                {}, 0ms, Kind::kNormal};
      if (Has(r.target, "/fw48h"))
        return {200, UkForecastAt(Fixture("uk-carbon-intensity/national_fw48h_2023-03-15T0331Z.json"), value), {},
                0ms, Kind::kNormal};
      return {404, "", {}, 0ms, Kind::kNormal};
    });
    HttpClient http(io_, Options());
    auto svc = Service(UkThenMock(http, /*https=*/false));
    Poll([&] { svc->PollForecast(); }, 1);
    Poll([&] { svc->PollCurrent(); }, 1);
    const ZoneIntensity* z = svc->Zone("GB");
    EXPECT_EQ(z->source, "mock");
    EXPECT_TRUE(z->fallback);
    ASSERT_TRUE(z->current);
    EXPECT_GT(z->current->point.gco2_per_kwh, 0);
    EXPECT_TRUE(Has(z->reason, "uk: implausible")) << z->reason;
    EXPECT_TRUE(Has(z->reason, "intensity.plausible")) << z->reason;
    if (value == "0") EXPECT_TRUE(Has(z->reason, "every value is 0 g/kWh")) << z->reason;
    else EXPECT_TRUE(Has(z->reason, value + " g/kWh at 2023-03-15T04:00:00.000Z")) << z->reason;
    EXPECT_EQ(z->forecast_source, "mock");
    EXPECT_TRUE(Has(z->forecast_reason, "uk: forecast implausible")) << z->forecast_reason;
    EXPECT_EQ(svc->fetch_errors().at({"uk", "implausible"}), 2u);
    // Nothing implausible was stored: the newest forecast and readings are the mock's.
    auto fc = store_->LatestForecast("GB", clock_.Now());
    ASSERT_TRUE(fc.ok() && *fc);
    EXPECT_EQ((*fc)->source, "mock");
    auto rs = store_->Readings("GB", T("2023-03-15T00:00:00Z"), T("2023-03-16T00:00:00Z"));
    ASSERT_TRUE(rs.ok());
    for (const auto& r : *rs) EXPECT_EQ(r.source, "mock");
  }
}

// A range set in the config applies: 217 g/kWh is over a max of 200.
TEST_F(FallbackTest, ThePlausibleRangeIsConfigurable) {
  upstream_.set_handler([this](const UpstreamRequest& r) { return UkApi(r); });
  HttpClient http(io_, Options());
  IntensityServiceOptions o;
  o.plausible.max = 200;
  IntensityService svc(UkThenMock(http, false), *store_, clock_, o);
  svc.on_update = [this](const ZoneIntensity&) { ++updates_; };
  Poll([&] { svc.PollCurrent(); }, 1);
  EXPECT_EQ(svc.Zone("GB")->source, "mock");
  EXPECT_TRUE(Has(svc.Zone("GB")->reason, "217 g/kWh")) << svc.Zone("GB")->reason;
  EXPECT_TRUE(Has(svc.Zone("GB")->reason, "at most 200 g/kWh")) << svc.Zone("GB")->reason;
}

// A forecast shorter than the horizon is completed by the own forecaster
// from stored readings, and the reason says where it was completed.
TEST_F(FallbackTest, AShortForecastIsCompletedByTheOwnForecaster) {
  // 14 days of stored readings with a daily cycle.
  std::vector<StoredReading> past;
  for (Timestamp t = clock_.Now() - std::chrono::hours(24 * 14); t < clock_.Now(); t += std::chrono::minutes(30)) {
    const double hour = static_cast<double>(std::chrono::duration_cast<std::chrono::minutes>(
                                                t.time_since_epoch()).count() % (24 * 60)) / 60.0;
    past.push_back({"GB", "uk", {t, std::chrono::minutes(30), 150 + 80 * std::sin(hour / 24 * 6.283), false}, t,
                    std::nullopt});
  }
  ASSERT_TRUE(store_->AddReadings(past).ok());
  upstream_.set_handler([this](const UpstreamRequest& r) -> UpstreamReply {
    if (Has(r.target, "/fw48h"))  // 12 h of the recorded 48 h
      return {200, UkForecastAt(Fixture("uk-carbon-intensity/national_fw48h_2023-03-15T0331Z.json"), "", 24), {},
              0ms, Kind::kNormal};
    return UkApi(r);
  });
  HttpClient http(io_, Options());
  auto svc = Service(UkThenMock(http, false));
  Poll([&] { svc->PollForecast(); }, 1);
  const ZoneIntensity* z = svc->Zone("GB");
  EXPECT_EQ(z->forecast_source, "uk+history");
  EXPECT_TRUE(Has(z->forecast_reason, "uk's forecast ends at 2023-03-15T15:30:00.000Z; completed to")) << z->forecast_reason;
  EXPECT_TRUE(Has(z->forecast_reason, "own forecaster")) << z->forecast_reason;
  auto fc = store_->LatestForecast("GB", clock_.Now());
  ASSERT_TRUE(fc.ok() && *fc);
  EXPECT_EQ((*fc)->source, "uk+history");
  ASSERT_FALSE((*fc)->points.empty());
  EXPECT_GE((*fc)->points.back().end(), clock_.Now() + std::chrono::hours(47));
  // The source's own points come first, unchanged.
  EXPECT_DOUBLE_EQ((*fc)->points.front().gco2_per_kwh, 210);  // the recorded forecast for 04:00
  for (size_t i = 1; i < (*fc)->points.size(); ++i)
    EXPECT_EQ((*fc)->points[i].time, (*fc)->points[i - 1].end()) << i;  // no gap, no overlap
}

}  // namespace
}  // namespace carbon

// The SQLite intensity store, the local sources (trace replay, static) and
// the service over them.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "common/time_util.h"
#include "daemon/core/intensity_service.h"
#include "daemon/intensity/local_sources.h"
#include "daemon/store/sqlite_intensity_store.h"
#include "daemon/store/sqlite_job_store.h"
#include "tests/support/fakes.h"

namespace carbon {
namespace {

using namespace std::chrono_literals;

Timestamp T(const char* s) { return *ParseTime(s); }

IntensitySeries Sync(const std::function<void(IntensitySource::Callback)>& call) {
  std::optional<StatusOr<IntensitySeries>> out;
  call([&](StatusOr<IntensitySeries> r) { out = std::move(r); });
  EXPECT_TRUE(out.has_value()) << "a local source answers before returning";
  EXPECT_TRUE(out->ok()) << out->status().ToString();
  return out->ok() ? **out : IntensitySeries{};
}

class IntensityStoreTest : public ::testing::Test {
 protected:
  IntensityStoreTest() {
    auto s = SqliteJobStore::Open(dir_ / "carbond.db");
    EXPECT_TRUE(s.ok());
    jobs_ = std::move(*s);
    store_ = std::make_unique<SqliteIntensityStore>(jobs_->db());
  }
  fakes::TempDir dir_;
  std::unique_ptr<SqliteJobStore> jobs_;
  std::unique_ptr<SqliteIntensityStore> store_;
};

StoredForecast Forecast(const char* issued, std::vector<double> values) {
  StoredForecast f{"GB", "uk", T(issued), {}};
  Timestamp t = std::chrono::floor<std::chrono::hours>(T(issued));
  for (double v : values) {
    f.points.push_back(IntensityPoint{t, 30min, v, true});
    t += 30min;
  }
  return f;
}

TEST_F(IntensityStoreTest, ReadingsUpsertAndComeBackInOrder) {
  StoredReading a{"GB", "uk", {T("2026-01-01T00:30:00Z"), 30min, 150, true}, T("2026-01-01T00:31:00Z"), std::nullopt};
  StoredReading b{"GB", "uk", {T("2026-01-01T00:00:00Z"), 30min, 140, false}, T("2026-01-01T00:01:00Z"), std::nullopt};
  ASSERT_TRUE(store_->AddReadings({a, b}).ok());
  a.point.gco2_per_kwh = 155;  // the actual arrives later
  a.point.estimated = false;
  ASSERT_TRUE(store_->AddReadings({a}).ok());
  StoredReading other{"DE", "mock", {T("2026-01-01T00:00:00Z"), 30min, 400, false}, T("2026-01-01T00:01:00Z"),
                      std::string("uk: down")};
  ASSERT_TRUE(store_->AddReadings({other}).ok());
  auto rs = store_->Readings("GB", T("2026-01-01T00:00:00Z"), T("2026-01-02T00:00:00Z"));
  ASSERT_TRUE(rs.ok());
  ASSERT_EQ(rs->size(), 2u);
  EXPECT_DOUBLE_EQ((*rs)[0].point.gco2_per_kwh, 140);
  EXPECT_DOUBLE_EQ((*rs)[1].point.gco2_per_kwh, 155);
  EXPECT_FALSE((*rs)[1].point.estimated);
  auto de = store_->Readings("DE", T("2026-01-01T00:00:00Z"), T("2026-01-02T00:00:00Z"));
  ASSERT_EQ(de->size(), 1u);
  EXPECT_EQ(*(*de)[0].fallback, "uk: down");
  // A negative value is refused by the schema and nothing stored is lost.
  StoredReading bad = b;
  bad.point.gco2_per_kwh = -1;
  EXPECT_FALSE(store_->AddReadings({bad}).ok());
  EXPECT_EQ(store_->Readings("GB", T("2026-01-01T00:00:00Z"), T("2026-01-02T00:00:00Z"))->size(), 2u);
}

TEST_F(IntensityStoreTest, ForecastsAreDeduplicatedAndFoundByCoverage) {
  EXPECT_TRUE(*store_->AddForecast(Forecast("2026-01-01T00:00:00Z", {100, 110, 120, 130})));
  // The same forecast polled again is not stored twice.
  EXPECT_FALSE(*store_->AddForecast(Forecast("2026-01-01T00:30:00Z", {100, 110, 120, 130})));
  // A new issue with the same targets but other values is stored.
  auto f2 = Forecast("2026-01-01T00:00:00Z", {101, 111, 121, 131});
  f2.issued_at = T("2026-01-01T00:40:00Z");
  EXPECT_TRUE(*store_->AddForecast(f2));
  auto c = store_->ForecastCovering("GB", T("2026-01-01T01:10:00Z"));
  ASSERT_TRUE(c.ok() && *c);
  EXPECT_EQ((*c)->issued_at, T("2026-01-01T00:40:00Z"));
  EXPECT_DOUBLE_EQ(PointAt((*c)->points, T("2026-01-01T01:10:00Z"))->gco2_per_kwh, 121);
  // Not yet issued at 00:20: the first one.
  auto early = store_->ForecastCovering("GB", T("2026-01-01T00:20:00Z"));
  EXPECT_EQ((*early)->issued_at, T("2026-01-01T00:00:00Z"));
  // Past the last point (02:00): nothing covers.
  EXPECT_FALSE(*store_->ForecastCovering("GB", T("2026-01-01T02:00:00Z")));
  EXPECT_FALSE(*store_->ForecastCovering("DE", T("2026-01-01T01:00:00Z")));
  auto n = store_->Prune(T("2026-01-01T00:30:00Z"));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 4);  // the first forecast's four rows
  EXPECT_EQ((*store_->LatestForecast("GB", T("2026-01-02T00:00:00Z")))->issued_at, T("2026-01-01T00:40:00Z"));
}

TEST(TraceSource, ReplaysRecordedValuesAtRecordedTimesAndLoops) {
  TraceSourceConfig c;
  c.path = std::string(CARBON_SOURCE_DIR) + "/tests/fixtures/traces/lets-wait-awhile_gb_ci_head.csv";
  auto src = TraceSource::Load(c);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  const IntensitySeries& rec = (*src)->series();
  ASSERT_EQ(rec.size(), 96u);
  // At every recorded time the current value is the recorded one.
  for (const IntensityPoint& p : rec) {
    auto cur = Sync([&](auto cb) { (*src)->Current("GB", p.time + 10min, cb); });
    ASSERT_EQ(cur.size(), 1u);
    EXPECT_EQ(cur[0].time, p.time);
    EXPECT_DOUBLE_EQ(cur[0].gco2_per_kwh, p.gco2_per_kwh);
  }
  // The forecast is the recording's future, exact.
  auto fc = Sync([&](auto cb) { (*src)->Forecast("GB", rec[10].time, 5h, cb); });
  ASSERT_EQ(fc.size(), 10u);
  for (size_t i = 0; i < fc.size(); ++i) EXPECT_DOUBLE_EQ(fc[i].gco2_per_kwh, rec[10 + i].gco2_per_kwh);
  // Two days later (the trace holds two days) the same values come back.
  auto later = Sync([&](auto cb) { (*src)->Current("GB", rec[5].time + 48h + 1min, cb); });
  EXPECT_EQ(later[0].time, rec[5].time + 48h);
  EXPECT_DOUBLE_EQ(later[0].gco2_per_kwh, rec[5].gco2_per_kwh);
  // A forecast across the end wraps to the start.
  auto wrap = Sync([&](auto cb) { (*src)->Forecast("GB", rec[95].time, 1h, cb); });
  ASSERT_EQ(wrap.size(), 2u);
  EXPECT_DOUBLE_EQ(wrap[1].gco2_per_kwh, rec[0].gco2_per_kwh);
  EXPECT_EQ(wrap[1].time, rec[95].time + 30min);
  // With a forecast error the values move, deterministically.
  TraceSourceConfig noisy = c;
  noisy.forecast_error = 20;
  TraceSource n1(rec, noisy), n2(rec, noisy);
  auto a = Sync([&](auto cb) { n1.Forecast("GB", rec[0].time, 24h, cb); });
  auto b = Sync([&](auto cb) { n2.Forecast("GB", rec[0].time, 24h, cb); });
  int moved = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_DOUBLE_EQ(a[i].gco2_per_kwh, b[i].gco2_per_kwh);
    moved += std::abs(a[i].gco2_per_kwh - rec[i].gco2_per_kwh) > 1e-9;
  }
  EXPECT_GT(moved, 40);
}

TEST(MockSource, EachZoneHasItsTroughAtThreeLocalTime) {
  MockIntensityParams p;
  p.noise = 0;
  p.weekend_delta = 0;
  MockSource m(p, /*offset_from_zone=*/true);
  for (auto [zone, trough_utc] : {std::pair<const char*, const char*>{"GB", "2026-01-14T03:00:00Z"},
                                  {"DE", "2026-01-14T02:00:00Z"},
                                  {"US-CAL-CISO", "2026-01-14T11:00:00Z"},
                                  {"AU-NSW", "2026-01-13T17:00:00Z"}}) {
    auto day = Sync([&](auto cb) { m.History(zone, T("2026-01-13T12:00:00Z"), T("2026-01-14T12:00:00Z"), cb); });
    auto lowest = std::min_element(day.begin(), day.end(), [](const IntensityPoint& a, const IntensityPoint& b) {
      return a.gco2_per_kwh < b.gco2_per_kwh;
    });
    EXPECT_EQ(FormatTime(lowest->time), FormatTime(T(trough_utc))) << zone;
  }
  EXPECT_EQ(StandardUtcOffsetMinutes("ZZ"), 0);
}

TEST(TraceSource, WithoutLoopOutsideTheRecordingIsAnError) {
  TraceSourceConfig c;
  c.path = "/nonexistent/trace.csv";
  auto missing = TraceSource::Load(c);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().field(), "intensity.trace.path");
  c.loop = false;
  TraceSource t({IntensityPoint{T("2020-01-01T00:00:00Z"), 30min, 100, false}}, c);
  std::optional<Status> st;
  t.Current("GB", T("2021-01-01T00:00:00Z"), [&](StatusOr<IntensitySeries> r) { st = r.status(); });
  ASSERT_TRUE(st);
  EXPECT_NE(st->message().find("covers 2020-01-01T00:00:00.000Z .. 2020-01-01T00:30:00.000Z only"),
            std::string::npos)
      << st->message();
}

TEST_F(IntensityStoreTest, ServiceWithTraceThenStatic) {
  FakeClock clock(T("2019-12-20T05:10:00Z"));
  TraceSourceConfig c;
  c.path = std::string(CARBON_SOURCE_DIR) + "/tests/fixtures/traces/lets-wait-awhile_gb_ci_head.csv";
  c.loop = false;
  std::vector<std::unique_ptr<IntensitySource>> chain;
  auto trace = TraceSource::Load(c);
  ASSERT_TRUE(trace.ok());
  chain.push_back(std::move(*trace));
  chain.push_back(std::make_unique<StaticSource>(233));
  IntensityService svc(std::move(chain), *store_, clock, {});
  svc.PollForecast();
  svc.PollCurrent();
  EXPECT_EQ(svc.Zone("GB")->source, "trace");
  EXPECT_EQ(svc.Zone("GB")->forecast_source, "trace");
  // Past the recording (it ends 2019-12-22T00:00) and past the stored
  // forecast made from it: static.
  clock.Set(T("2019-12-22T10:00:00Z"));
  svc.PollCurrent();
  EXPECT_EQ(svc.Zone("GB")->source, "static");
  EXPECT_DOUBLE_EQ(svc.Zone("GB")->current->point.gco2_per_kwh, 233);
  EXPECT_NE(svc.Zone("GB")->reason.find("trace: trace "), std::string::npos) << svc.Zone("GB")->reason;
  clock.Set(T("2019-12-21T23:50:00Z"));  // back inside the recording
  svc.PollCurrent();
  EXPECT_EQ(svc.Zone("GB")->source, "trace");
}

}  // namespace
}  // namespace carbon

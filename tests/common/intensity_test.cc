#include <gtest/gtest.h>

#include <cmath>

#include <array>
#include <random>
#include <fstream>
#include <sstream>

#include "common/intensity.h"
#include "common/intensity_formats.h"
#include "common/mock_intensity.h"
#include "common/time_util.h"
#include "tests/support/files.h"

namespace carbon {
namespace {

std::string Fixture(const std::string& rel) { return fakes::ReadSourceFile("tests/fixtures/" + rel); }

Timestamp T(const char* s) { return *ParseTime(s); }

TEST(UkParser, NationalForecastHasNullActualsAndTimesWithoutSeconds) {
  auto s = ParseUkIntensity(Fixture("uk-carbon-intensity/national_fw48h_2023-03-15T0331Z.json"),
                            "fw48h", /*use_actual=*/true);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->size(), 96u);
  EXPECT_EQ((*s)[0].time, T("2023-03-15T03:30:00Z"));
  EXPECT_EQ((*s)[0].period, std::chrono::minutes(30));
  EXPECT_DOUBLE_EQ((*s)[0].gco2_per_kwh, 201);
  EXPECT_DOUBLE_EQ((*s)[1].gco2_per_kwh, 210);
  for (const auto& p : *s) EXPECT_TRUE(p.estimated);  // actual null: the forecast is used
  EXPECT_EQ(s->back().time, T("2023-03-17T03:00:00Z"));
}

TEST(UkParser, PastDayUsesActualsWhereTheyExist) {
  auto s = ParseUkIntensity(Fixture("uk-carbon-intensity/national_pt24h_2023-03-15T0331Z.json"),
                            "pt24h", true);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->size(), 48u);
  EXPECT_DOUBLE_EQ((*s)[0].gco2_per_kwh, 78);  // actual, not the forecast 72
  EXPECT_FALSE((*s)[0].estimated);
  // The last three half-hours have "actual": null.
  for (size_t i = 45; i < 48; ++i) EXPECT_TRUE((*s)[i].estimated) << i;
  EXPECT_FALSE((*s)[44].estimated);
  auto f = ParseUkIntensity(Fixture("uk-carbon-intensity/national_pt24h_2023-03-15T0331Z.json"),
                            "pt24h", /*use_actual=*/false);
  ASSERT_TRUE(f.ok());
  EXPECT_DOUBLE_EQ((*f)[0].gco2_per_kwh, 72);
}

TEST(UkParser, RegionalPostcodeDataIsAnObject) {
  auto s = ParseUkIntensity(
      Fixture("uk-carbon-intensity/regional_postcode_OX1_single-period_2026-09-29_cats.json"),
      "postcode", true);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ((*s)[0].time, T("2026-09-29T11:30:00Z"));
  EXPECT_DOUBLE_EQ((*s)[0].gco2_per_kwh, 85);
  EXPECT_TRUE((*s)[0].estimated);  // regional responses carry no actual
}

TEST(UkParser, RegionIdDataIsAnArrayOfOneRegionAndZeroIsAValue) {
  const std::string body = R"({"data":[{"regionid":3,"shortname":"North Scotland","data":[
    {"from":"2023-03-15T03:30Z","to":"2023-03-15T04:00Z","intensity":{"forecast":0,"index":"very low"}}]}]})";
  auto s = ParseUkIntensity(body, "regionid", true);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->size(), 1u);
  EXPECT_DOUBLE_EQ((*s)[0].gco2_per_kwh, 0);
}

TEST(UkParser, BadBodiesSayWhatIsWrong) {
  auto garbage = ParseUkIntensity("<html>502 Bad Gateway</html>", "https://x/intensity", true);
  EXPECT_EQ(garbage.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(garbage.status().message().find("https://x/intensity: response is not valid JSON"), std::string::npos);
  auto truncated = ParseUkIntensity(R"({"data":[{"from":"2023-03-15T03:30Z","to":)", "u", true);
  EXPECT_FALSE(truncated.ok());
  auto missing = ParseUkIntensity(R"({"data":[{"from":"2023-03-15T03:30Z","to":"2023-03-15T04:00Z","intensity":{"actual":null}}]})", "u", true);
  EXPECT_NE(missing.status().message().find("data[0][0].intensity: neither 'actual' nor 'forecast'"), std::string::npos)
      << missing.status().message();
  auto all_regions = ParseUkIntensity(R"({"data":[{"from":"2023-03-15T03:30Z","to":"2023-03-15T04:00Z","regions":[]}]})", "u", true);
  EXPECT_NE(all_regions.status().message().find("query one region"), std::string::npos);
}

TEST(ElectricityMapsParser, LatestIsOneEstimatedHour) {
  auto s = ParseElectricityMaps(Fixture("electricitymaps/latest_DE_2024-03-01_green-elephpant.json"), "latest");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ((*s)[0].time, T("2024-03-01T23:00:00Z"));
  EXPECT_EQ((*s)[0].period, std::chrono::hours(1));
  EXPECT_DOUBLE_EQ((*s)[0].gco2_per_kwh, 428);
  EXPECT_TRUE((*s)[0].estimated);
}

TEST(ElectricityMapsParser, HistoryKeepsEstimationFlags) {
  auto fr = ParseElectricityMaps(Fixture("electricitymaps/history_FR_2024-07-05_glpi.json"), "history");
  ASSERT_TRUE(fr.ok()) << fr.status().ToString();
  ASSERT_EQ(fr->size(), 24u);
  EXPECT_DOUBLE_EQ((*fr)[0].gco2_per_kwh, 19);
  int estimated = 0;
  for (auto& p : *fr) estimated += p.estimated;
  EXPECT_EQ(estimated, 3);
  EXPECT_TRUE(fr->back().estimated);
  auto miso = ParseElectricityMaps(Fixture("electricitymaps/history_US-MIDW-MISO_zeus_file1.json"), "h");
  ASSERT_TRUE(miso.ok());
  estimated = 0;
  for (auto& p : *miso) estimated += p.estimated;
  EXPECT_EQ(estimated, 8);
}

TEST(ElectricityMapsParser, ForecastAndErrorBodies) {
  auto f = ParseElectricityMaps(
      Fixture("electricitymaps/forecast_DE_2023-05-02_trial-endpoint_green-elephpant.json"), "forecast");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->size(), 48u);
  EXPECT_EQ((*f)[0].time, T("2023-05-02T20:00:00Z"));
  EXPECT_DOUBLE_EQ((*f)[0].gco2_per_kwh, 557);
  auto err = ParseElectricityMaps(R"({"error":"No recent data for zone \"US-MIDW-MISO\""})", "latest");
  EXPECT_EQ(err.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(err.status().message().find("No recent data for zone \"US-MIDW-MISO\""), std::string::npos);
}

TEST(CsvTrace, NesoUsesActualElseForecastAndKeepsTheGap) {
  auto s = ParseIntensityCsv(Fixture("traces/neso_2023_slices.csv"), "neso.csv");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->size(), 40u);
  auto at = PointAt(*s, T("2023-01-26T13:45:00Z"));
  ASSERT_TRUE(at);
  EXPECT_DOUBLE_EQ(at->gco2_per_kwh, 214);  // actual empty -> forecast
  EXPECT_TRUE(at->estimated);
  // Inside the recorded 2-day gap nothing covers the time.
  EXPECT_FALSE(PointAt(*s, T("2023-10-21T12:00:00Z")));
  auto before = PointAt(*s, T("2023-10-20T21:40:00Z"));
  ASSERT_TRUE(before);
  EXPECT_EQ(before->period, std::chrono::minutes(30));
}

TEST(CsvTrace, ReadsEveryRecordedFormat) {
  auto lwa = ParseIntensityCsv(Fixture("traces/lets-wait-awhile_gb_ci_head.csv"), "gb_ci.csv");
  ASSERT_TRUE(lwa.ok()) << lwa.status().ToString();
  EXPECT_EQ(lwa->size(), 96u);
  EXPECT_EQ((*lwa)[0].time, T("2019-12-20T00:00:00Z"));
  EXPECT_NEAR((*lwa)[0].gco2_per_kwh, 120.99546661944396, 1e-9);
  EXPECT_EQ((*lwa)[0].period, std::chrono::minutes(30));

  auto em = ParseIntensityCsv(Fixture("traces/electricitymaps_GB_2024_head.csv"), "GB_2024.csv");
  ASSERT_TRUE(em.ok()) << em.status().ToString();
  EXPECT_EQ(em->size(), 48u);
  EXPECT_DOUBLE_EQ((*em)[0].gco2_per_kwh, 96.44);  // lifecycle (LCA) by default
  EXPECT_EQ((*em)[0].period, std::chrono::hours(1));
  CsvTraceOptions direct;
  direct.value_column = "Carbon Intensity gCO\u2082eq/kWh (direct)";
  auto emd = ParseIntensityCsv(Fixture("traces/electricitymaps_GB_2024_head.csv"), "GB_2024.csv", direct);
  ASSERT_TRUE(emd.ok()) << emd.status().ToString();
  EXPECT_DOUBLE_EQ((*emd)[0].gco2_per_kwh, 61.34);

  auto cats = ParseIntensityCsv(Fixture("traces/cats_carbon_intensity_24h.csv"), "cats.csv");
  ASSERT_TRUE(cats.ok()) << cats.status().ToString();
  EXPECT_EQ(cats->size(), 96u);
  EXPECT_EQ((*cats)[0].time, T("2023-05-04T12:30:00Z"));
  EXPECT_DOUBLE_EQ((*cats)[0].gco2_per_kwh, 11);

  auto scraper = ParseIntensityCsv(Fixture("uk-carbon-intensity/national_fw48h_2023-03-14T0331Z_scraper.csv"), "s.csv");
  ASSERT_TRUE(scraper.ok()) << scraper.status().ToString();
  EXPECT_DOUBLE_EQ((*scraper)[0].gco2_per_kwh, 69);
  EXPECT_TRUE((*scraper)[0].estimated);
}

TEST(CsvTrace, ErrorsNameLineAndColumn) {
  auto bad = ParseIntensityCsv("Time,Carbon Intensity\n2020-01-01 00:00:00,100\n2020-01-01 00:30:00,abc\n", "t.csv");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("t.csv:3:21: 'abc' is not a number"), std::string::npos)
      << bad.status().message();
  auto order = ParseIntensityCsv("Time,Carbon Intensity\n2020-01-01 01:00:00,100\n2020-01-01 00:30:00,90\n", "t.csv");
  EXPECT_NE(order.status().message().find("t.csv:3:1: time"), std::string::npos) << order.status().message();
  auto header = ParseIntensityCsv("when,value\n2020-01-01 00:00:00,1\n", "t.csv");
  EXPECT_NE(header.status().message().find("t.csv:1: unknown CSV header (\"when\", \"value\"); accepted:"),
            std::string::npos)
      << header.status().message();
  CsvTraceOptions named{"when", "value"};
  EXPECT_TRUE(ParseIntensityCsv("when,value\n2020-01-01 00:00:00,1\n", "t.csv", named).ok());
  auto date = ParseIntensityCsv("Time,Carbon Intensity\n2020-13-01 00:00:00,100\n", "t.csv");
  EXPECT_NE(date.status().message().find("t.csv:2:1:"), std::string::npos) << date.status().message();
}

TEST(IntensitySeries, CleanestWindowMatchesCatsGolden) {
  // CATS's own test: a 3 h job in this forecast starts 2023-05-05T12:00Z.
  auto s = ParseIntensityCsv(Fixture("traces/cats_carbon_intensity_24h.csv"), "cats.csv");
  ASSERT_TRUE(s.ok());
  auto w = CleanestWindow(*s, std::chrono::hours(3), WindowMethod::kTrapezoid);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->start, T("2023-05-05T12:00:00Z"));
  EXPECT_EQ(w->end, T("2023-05-05T15:00:00Z"));
  EXPECT_NEAR(w->mean_gco2_per_kwh, 44.0 / 6.0, 1e-9);  // points [10,8,7,7,5,8,8]
  // The whole series (CATS: a 2850-minute job gets the whole 47.5 h).
  auto all = CleanestWindow(*s, std::chrono::minutes(2850), WindowMethod::kTrapezoid);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->start, (*s)[0].time);
  EXPECT_FALSE(CleanestWindow(*s, std::chrono::minutes(2851), WindowMethod::kTrapezoid));
  // As half-hour interval means, 12:30-15:30 [8,7,7,5,8,8] is the cleanest (43/6).
  auto iv = CleanestWindow(*s, std::chrono::hours(3));
  ASSERT_TRUE(iv);
  EXPECT_EQ(iv->start, T("2023-05-05T12:30:00Z"));
  EXPECT_NEAR(iv->mean_gco2_per_kwh, 43.0 / 6.0, 1e-9);
}

// BestStart's windows, from one integral of the series through cursors,
// against each candidate's own MeanIntervals: random series with gaps,
// uneven periods and repeated values, windows that start before the first
// point and end after the last, any duration.
TEST(IntensitySeries, BestStartAgreesWithAWalkOverEveryCandidate) {
  std::mt19937 rng(7);
  const Timestamp t0 = T("2026-12-07T00:00:00Z");
  for (int round = 0; round < 300; ++round) {
    IntensitySeries s;
    Timestamp t = t0;
    const int n = 1 + static_cast<int>(rng() % 60);
    for (int i = 0; i < n; ++i) {
      IntensityPoint p;
      p.time = t;
      p.period = std::chrono::minutes(rng() % 2 ? 30 : 60);
      p.gco2_per_kwh = rng() % 4 == 0 ? 100.0 : static_cast<double>(rng() % 500);
      s.push_back(p);
      t += p.period + (rng() % 5 == 0 ? std::chrono::minutes(90) : std::chrono::minutes(0));  // a gap, at times
    }
    const Timestamp earliest = t0 + std::chrono::minutes(static_cast<int>(rng() % 1200)) - std::chrono::hours(2);
    const Timestamp latest = earliest + std::chrono::minutes(static_cast<int>(rng() % 2000));
    const Duration duration = std::chrono::minutes(1 + static_cast<int>(rng() % 600));
    auto got = BestStart(s, earliest, latest, duration);
    // The walk: the same candidates, each summed on its own.
    std::optional<Window> want;
    auto consider = [&](Timestamp start) {
      const double m = MeanIntervals(s, start, start + duration);
      if (!want || m < want->mean_gco2_per_kwh - 1e-9 ||
          (std::abs(m - want->mean_gco2_per_kwh) <= 1e-9 && start < want->start))
        want = Window{start, start + duration, m};
    };
    consider(earliest);
    for (const IntensityPoint& p : s) {
      if (p.time > earliest && p.time < latest) consider(p.time);
      if (p.time - duration > earliest && p.time - duration < latest) consider(p.time - duration);
    }
    if (latest > earliest) consider(latest);
    ASSERT_TRUE(got.has_value());
    SCOPED_TRACE("round " + std::to_string(round));
    EXPECT_NEAR(got->mean_gco2_per_kwh, want->mean_gco2_per_kwh, 1e-6);
    // The same start, or one as clean within the ties' tolerance.
    if (got->start != want->start) {
      EXPECT_NEAR(MeanIntervals(s, got->start, got->end), want->mean_gco2_per_kwh, 1e-6);
    }
  }
}

TEST(MockIntensity, YearlyMeanByHourHasTroughAt3AndPeakAt18) {
  for (int offset : {0, 60, -300, 0, 0, 0}) {
    static uint64_t seed = 0;
    MockIntensityParams p;
    p.utc_offset_minutes = offset;
    p.seed = ++seed;
    MockIntensityModel m(p);
    std::array<double, 24> sum{};
    std::array<int, 24> n{};
    Timestamp start = T("2025-01-01T00:00:00Z");
    for (Timestamp t = start; t < start + std::chrono::hours(24 * 365); t += std::chrono::minutes(30)) {
      IntensityPoint pt = m.At(t);
      EXPECT_GE(pt.gco2_per_kwh, 0);
      auto local = std::chrono::duration_cast<std::chrono::minutes>(t.time_since_epoch()).count() + offset;
      int hour = static_cast<int>(((local / 60) % 24 + 24) % 24);
      sum[static_cast<size_t>(hour)] += pt.gco2_per_kwh;
      ++n[static_cast<size_t>(hour)];
    }
    size_t lo = 0, hi = 0;
    for (size_t h = 0; h < 24; ++h) {
      if (sum[h] / n[h] < sum[lo] / n[lo]) lo = h;
      if (sum[h] / n[h] > sum[hi] / n[hi]) hi = h;
    }
    EXPECT_EQ(lo, 3u) << "offset " << offset;
    EXPECT_EQ(hi, 18u) << "offset " << offset;
  }
}

TEST(MockIntensity, DeterministicWeekendsLowerForecastErrorGrowsWithLead) {
  MockIntensityParams p;
  MockIntensityModel a(p), b(p);
  Timestamp t = T("2026-11-26T10:10:00Z");
  EXPECT_EQ(a.At(t).gco2_per_kwh, b.At(t).gco2_per_kwh);
  EXPECT_EQ(a.At(t).time, T("2026-11-26T10:00:00Z"));
  p.seed = 2;
  EXPECT_NE(MockIntensityModel(p).At(t).gco2_per_kwh, a.At(t).gco2_per_kwh);
  // Weekend mean is lower by about weekend_delta.
  double weekday = 0, weekend = 0;
  Timestamp mon = T("2026-11-23T00:00:00Z");
  for (int i = 0; i < 48 * 7; ++i) {
    Timestamp s = mon + std::chrono::minutes(30 * i);
    (i >= 48 * 5 ? weekend : weekday) += a.At(s).gco2_per_kwh;
  }
  EXPECT_LT(weekend / (48 * 2), weekday / (48 * 5) - 10);
  // The forecast error grows with the lead time.
  double err_short = 0, err_long = 0;
  for (int i = 0; i < 400; ++i) {
    Timestamp issued = mon + std::chrono::hours(i);
    err_short += std::abs(a.ForecastAt(issued, issued + std::chrono::hours(1)).gco2_per_kwh -
                          a.At(issued + std::chrono::hours(1)).gco2_per_kwh);
    err_long += std::abs(a.ForecastAt(issued, issued + std::chrono::hours(40)).gco2_per_kwh -
                         a.At(issued + std::chrono::hours(40)).gco2_per_kwh);
  }
  EXPECT_GT(err_long, 2 * err_short);
  auto fc = a.Forecast(t, std::chrono::hours(48));
  EXPECT_EQ(fc.size(), 97u);  // from the current step to 48 h ahead
  EXPECT_EQ(a.ForecastAt(t, t + std::chrono::hours(5)).gco2_per_kwh,
            b.ForecastAt(t, t + std::chrono::hours(5)).gco2_per_kwh);
}

TEST(Plausible, RealValuesPassAndOthersNameTheFirstBadOne) {
  auto pt = [](const char* t, double v) { return IntensityPoint{T(t), std::chrono::minutes(30), v, false}; };
  PlausibleRange r;
  EXPECT_TRUE(CheckPlausible({}, r).ok());
  EXPECT_TRUE(CheckPlausible({pt("2024-01-01T00:00:00Z", 1.96), pt("2024-01-01T00:30:00Z", 2500)}, r).ok());
  Status zeros = CheckPlausible({pt("2024-01-01T00:00:00Z", 0), pt("2024-01-01T00:30:00Z", 0)}, r);
  EXPECT_EQ(zeros.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(zeros.message().find("every value is 0 g/kWh (2 points)"), std::string::npos) << zeros.message();
  EXPECT_NE(zeros.message().find("above 0 and at most 2500 g/kWh (intensity.plausible)"), std::string::npos);
  Status high = CheckPlausible(
      {pt("2024-01-01T00:00:00Z", 300), pt("2024-01-01T00:30:00Z", 99999), pt("2024-01-01T01:00:00Z", 0)}, r);
  EXPECT_NE(high.message().find("99999 g/kWh at 2024-01-01T00:30:00.000Z and 1 more of 3 points"), std::string::npos)
      << high.message();
  EXPECT_FALSE(CheckPlausible({pt("2024-01-01T00:00:00Z", std::nan(""))}, r).ok());
  EXPECT_FALSE(CheckPlausible({pt("2024-01-01T00:00:00Z", -1)}, r).ok());
  EXPECT_FALSE(CheckPlausible({pt("2024-01-01T00:00:00Z", HUGE_VAL)}, r).ok());
  EXPECT_FALSE(CheckPlausible({pt("2024-01-01T00:00:00Z", 2500.5)}, r).ok());
  PlausibleRange narrow{50, 100};
  EXPECT_FALSE(CheckPlausible({pt("2024-01-01T00:00:00Z", 50)}, narrow).ok());  // min is exclusive
  EXPECT_TRUE(CheckPlausible({pt("2024-01-01T00:00:00Z", 100)}, narrow).ok());   // max is inclusive
}

}  // namespace
}  // namespace carbon

// The error of carbond's own forecaster (common/forecaster.h) against the
// seasonal-naive forecasts on recorded traces: a 48 h forecast issued every
// 6 h after the first 35 days, each point compared with the recorded value,
// in two lead bins, 1-24 h and 25-48 h ahead. Baselines: the same hour
// yesterday (the latest known day, as SeasonalNaiveForecast gives it) and the
// same hour last week. One Markdown row per trace: MAE (g/kWh) and MAPE (%).
//   build/bench/forecast_mae TRACE.csv [TRACE.csv ...]
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "common/forecaster.h"
#include "common/intensity_formats.h"

namespace {

struct Error {
  double abs = 0, pct = 0;
  long n = 0;
  void Add(double forecast, double actual) {
    abs += std::abs(forecast - actual);
    if (actual > 0) pct += std::abs(forecast - actual) / actual;
    ++n;
  }
  std::string Cell() const {
    char b[48];
    std::snprintf(b, sizeof b, "%.1f / %.1f%%", n ? abs / n : 0.0, n ? 100 * pct / n : 0.0);
    return b;
  }
  double Mae() const { return n ? abs / n : 0; }
};

}  // namespace

int main(int argc, char** argv) {
  using namespace carbon;
  std::printf("| trace | forecasts | own 1-24 h | yesterday 1-24 h | last week 1-24 h | own 25-48 h | yesterday 25-48 h "
              "| last week 25-48 h |\n|---|---|---|---|---|---|---|---|\n");
  for (int a = 1; a < argc; ++a) {
    std::ifstream in(argv[a], std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    auto trace = ParseIntensityCsv(ss.str(), argv[a]);
    if (!trace.ok()) {
      std::fprintf(stderr, "%s\n", trace.status().message().c_str());
      return 1;
    }
    const Duration step = std::chrono::duration_cast<Duration>((*trace)[1].time - (*trace)[0].time);
    ForecasterOptions fo;
    fo.step = step;
    Error own[2], day[2], week[2];
    long issues = 0;
    const auto h48 = std::chrono::hours(48);
    for (Timestamp now = trace->front().time + std::chrono::hours(24 * 35); now + h48 < trace->back().end();
         now += std::chrono::hours(6)) {
      IntensitySeries history = SliceSorted(*trace, now - std::chrono::hours(24 * 35), now);
      auto f = ForecastFromHistory(history, now, h48, fo);
      auto naive = SeasonalNaiveForecast(history, now, h48, step);
      ++issues;
      for (const IntensityPoint& p : f) {
        const auto lead = p.time - now;
        if (lead < std::chrono::hours(1) || lead > h48) continue;
        auto actual = PointAt(*trace, p.time);
        auto yesterday = PointAt(naive, p.time);
        auto last_week = PointAt(history, p.time - std::chrono::hours(24 * 7));
        if (!actual || !yesterday || !last_week) continue;
        const int bin = lead <= std::chrono::hours(24) ? 0 : 1;
        own[bin].Add(p.gco2_per_kwh, actual->gco2_per_kwh);
        day[bin].Add(yesterday->gco2_per_kwh, actual->gco2_per_kwh);
        week[bin].Add(last_week->gco2_per_kwh, actual->gco2_per_kwh);
      }
    }
    std::string name = argv[a];
    name = name.substr(name.find_last_of('/') + 1);
    std::printf("| %s | %ld | %s | %s | %s | %s | %s | %s |\n", name.c_str(), issues, own[0].Cell().c_str(),
                day[0].Cell().c_str(), week[0].Cell().c_str(), own[1].Cell().c_str(), day[1].Cell().c_str(),
                week[1].Cell().c_str());
  }
  return 0;
}

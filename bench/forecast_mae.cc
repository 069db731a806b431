// Mean absolute error of carbond's own forecaster (common/forecaster.h)
// against the seasonal-naive forecast (same hour yesterday) on a recorded
// trace: a 48 h forecast issued every 6 h after the first 35 days, each
// compared with the recorded values.
//   build/bench/forecast_mae TRACE.csv [TRACE.csv ...]
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/forecaster.h"
#include "common/intensity_formats.h"

int main(int argc, char** argv) {
  using namespace carbon;
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
    double own_err = 0, naive_err = 0, own24 = 0, naive24 = 0;
    long n = 0, n24 = 0, issues = 0;
    for (Timestamp now = trace->front().time + std::chrono::hours(24 * 35);
         now + std::chrono::hours(48) < trace->back().end(); now += std::chrono::hours(6)) {
      IntensitySeries history = SliceSorted(*trace, now - std::chrono::hours(24 * 35), now);
      auto own = ForecastFromHistory(history, now, std::chrono::hours(48), fo);
      auto naive = SeasonalNaiveForecast(history, now, std::chrono::hours(48), step);
      ++issues;
      for (const IntensityPoint& p : own) {
        auto actual = PointAt(*trace, p.time);
        auto nv = PointAt(naive, p.time);
        if (!actual || !nv || p.time < now) continue;
        double eo = std::abs(p.gco2_per_kwh - actual->gco2_per_kwh);
        double en = std::abs(nv->gco2_per_kwh - actual->gco2_per_kwh);
        own_err += eo, naive_err += en, ++n;
        if (p.time < now + std::chrono::hours(24)) own24 += eo, naive24 += en, ++n24;
      }
    }
    std::printf("%s: %ld forecasts, MAE 0-48 h: own %.1f, seasonal naive %.1f gCO2/kWh (%.0f%% lower); "
                "0-24 h: own %.1f, naive %.1f\n",
                argv[a], issues, own_err / n, naive_err / n, 100 * (1 - own_err / naive_err), own24 / n24,
                naive24 / n24);
  }
  return 0;
}

// carbond's own intensity forecaster, for sources without forecasts
// (Electricity Maps without forecast access, history-only setups, the
// simulator's `own` mode). Pure functions of a history series.
//
// ForecastFromHistory blends three things, per target time t at lead L:
//  - a seasonal profile: the mean of the same hour of the week over the last
//    4 weeks and of the same hour of the day over the last 7 days (half each
//    when both exist);
//  - a level: the mean of the last 24 h minus the profile's mean over those
//    hours (a windy day sits below its profile), fading with exp(-L / 12 h);
//  - persistence: the rest of the latest value's deviation from the profile,
//    fading with exp(-L / 6 h).
// The two time constants were chosen on the 2023 traces of GB, DE-LU and
// US-CAL-CISO (docs/benchmarks.md) and checked on 2022 and 2024.
#pragma once

#include "common/intensity.h"

namespace carbon {

struct ForecasterOptions {
  Duration step = std::chrono::hours(1);
  Duration level_decay = std::chrono::hours(12);
  Duration persistence_decay = std::chrono::hours(6);
  int weeks = 4;
  int days = 7;
};

// Points from the step containing `now` to now + horizon; empty when the
// history holds nothing at or before now.
IntensitySeries ForecastFromHistory(const IntensitySeries& history, Timestamp now, Duration horizon,
                                    const ForecasterOptions& options = {});

// The baseline: the value at the same time one day earlier (seasonal naive).
IntensitySeries SeasonalNaiveForecast(const IntensitySeries& history, Timestamp now, Duration horizon,
                                      Duration step = std::chrono::hours(1));

}  // namespace carbon

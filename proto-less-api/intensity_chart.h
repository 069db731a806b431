// The text view of `carbonctl intensity`: the current value with its source
// and age, and the forecast as one column per hour with the cleanest window
// marked. Pure: JSON bodies of /v1/intensity and /v1/intensity/forecast in,
// text out.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/intensity.h"

namespace carbon::api {

// Hourly means of the forecast points that lie ahead of `now` (at most
// `hours` of them), for the chart.
IntensitySeries HourlyForecast(const nlohmann::json& forecast, Timestamp now, int hours);

// `current` or `forecast` may be null (not available); `why_*` then says why.
std::string RenderIntensity(const nlohmann::json* current, const std::string& why_current,
                            const nlohmann::json* forecast, const std::string& why_forecast,
                            Duration window);

// The cleanest window of `window` in the forecast ahead of now, as JSON
// {start, end, mean_gco2_per_kwh}, or null.
nlohmann::json CleanestWindowJson(const nlohmann::json& forecast, Duration window);

}  // namespace carbon::api

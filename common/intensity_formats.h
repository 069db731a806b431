// Parsers for the carbon-intensity formats carbond reads: the UK Carbon
// Intensity API's JSON, Electricity Maps v3 JSON, and the CSV traces of
// recorded intensity. Pure functions of text; errors name the source (a file
// or a URL) and, for CSV, the line and column, and say what is accepted.
#pragma once

#include <string>

#include "common/intensity.h"
#include "common/status.h"

namespace carbon {

// UK Carbon Intensity API bodies: national (`data` an array of periods) and
// regional by region id or postcode (`data` an object, or an array of one
// region, holding the periods in its own `data`). Each period's value is
// `actual` when `use_actual` and it is not null, else `forecast`; a value that
// came from `forecast` is marked estimated. Times without seconds
// ("2023-03-15T03:30Z") and an intensity of 0 are valid.
StatusOr<IntensitySeries> ParseUkIntensity(const std::string& body, const std::string& source,
                                           bool use_actual);

// Electricity Maps API v3 bodies: `/carbon-intensity/latest` (one object),
// `/history` and `/forecast` (arrays under "history" / "forecast"). Points
// are hourly. `{"error": "..."}` bodies become UNAVAILABLE with that message.
StatusOr<IntensitySeries> ParseElectricityMaps(const std::string& body, const std::string& source);

struct CsvTraceOptions {
  // Column names; empty picks by the header (see ParseIntensityCsv).
  std::string time_column;
  std::string value_column;
};

// A CSV trace of recorded intensity. Known headers:
//  - Electricity Maps yearly files: "Datetime (UTC)" with
//    "Carbon Intensity gCO₂eq/kWh (LCA)" (lifecycle, the default) or "(direct)";
//  - Let's Wait Awhile: "Time", "Carbon Intensity";
//  - NESO national: "from", "to", "forecast", "actual" (actual, else forecast);
//  - the forecast-tracking scraper: "from", "intensity.forecast", "intensity.actual";
//  - CATS: "time", "intensity".
// Times without an offset are UTC. Each point lasts until the next one, at most
// the trace's usual step, so gaps stay gaps. Rows must be in time order.
StatusOr<IntensitySeries> ParseIntensityCsv(const std::string& text, const std::string& source,
                                            const CsvTraceOptions& options = {});

}  // namespace carbon

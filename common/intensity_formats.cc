#include "common/intensity_formats.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <map>
#include <string_view>

#include "common/time_util.h"

namespace carbon {
namespace {

using nlohmann::json;

StatusOr<json> ParseJson(const std::string& body, const std::string& source) {
  try {
    return json::parse(body);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers too large
    return Unavailable(source + ": response is not valid JSON (" + e.what() + ")");
  }
}

StatusOr<Timestamp> JsonTime(const json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string())
    return Unavailable(where + ": '" + key + "' is missing or not a string");
  auto t = ParseTime(it->get<std::string>());
  if (!t.ok()) return Unavailable(where + "." + key + ": " + t.status().message());
  return *t;
}

// A UK period {from, to, intensity: {forecast, actual?}}.
StatusOr<IntensityPoint> UkPeriod(const json& p, const std::string& where, bool use_actual) {
  if (!p.is_object()) return Unavailable(where + ": expected an object with from, to, intensity");
  ASSIGN_OR_RETURN(Timestamp from, JsonTime(p, "from", where));
  ASSIGN_OR_RETURN(Timestamp to, JsonTime(p, "to", where));
  if (to <= from) return Unavailable(where + ": 'to' is not after 'from'");
  auto in = p.find("intensity");
  if (in == p.end() || !in->is_object()) return Unavailable(where + ": 'intensity' is missing");
  IntensityPoint pt;
  pt.time = from;
  pt.period = std::chrono::duration_cast<Duration>(to - from);
  auto actual = in->find("actual");
  auto forecast = in->find("forecast");
  if (use_actual && actual != in->end() && actual->is_number()) {
    pt.gco2_per_kwh = actual->get<double>();
  } else if (forecast != in->end() && forecast->is_number()) {
    pt.gco2_per_kwh = forecast->get<double>();
    pt.estimated = true;
  } else {
    return Unavailable(where + ".intensity: neither 'actual' nor 'forecast' is a number");
  }
  if (pt.gco2_per_kwh < 0 || !std::isfinite(pt.gco2_per_kwh))
    return Unavailable(where + ".intensity: negative intensity");
  return pt;
}

Status UkPeriods(const json& arr, const std::string& where, bool use_actual, IntensitySeries& out) {
  for (size_t i = 0; i < arr.size(); ++i) {
    std::string w = where + "[" + std::to_string(i) + "]";
    if (arr[i].is_object() && arr[i].contains("regions"))
      return Unavailable(w + ": an all-regions response; query one region (region_id or postcode)");
    ASSIGN_OR_RETURN(IntensityPoint p, UkPeriod(arr[i], w, use_actual));
    out.push_back(p);
  }
  return Status();
}

}  // namespace

StatusOr<IntensitySeries> ParseUkIntensity(const std::string& body, const std::string& source,
                                           bool use_actual) {
  ASSIGN_OR_RETURN(json j, ParseJson(body, source));
  if (!j.is_object() || !j.contains("data")) {
    if (j.is_object() && j.contains("error") && j["error"].is_object())
      return Unavailable(source + ": " + j["error"].value("message", j["error"].dump()));
    return Unavailable(source + ": expected an object with 'data'");
  }
  const json& data = j["data"];
  IntensitySeries out;
  if (data.is_object()) {
    // Regional by postcode or region id: {"regionid", ..., "data": [periods]}.
    if (!data.contains("data") || !data["data"].is_array())
      return Unavailable(source + ": data.data is missing (expected the region's periods)");
    RETURN_IF_ERROR(UkPeriods(data["data"], source + ": data.data", use_actual, out));
  } else if (data.is_array()) {
    for (size_t i = 0; i < data.size(); ++i) {
      const json& e = data[i];
      if (e.is_object() && e.contains("regionid") && e.contains("data") && e["data"].is_array()) {
        RETURN_IF_ERROR(UkPeriods(e["data"], source + ": data[" + std::to_string(i) + "].data",
                                  use_actual, out));
      } else {
        RETURN_IF_ERROR(UkPeriods(json::array({e}), source + ": data[" + std::to_string(i) + "]",
                                  use_actual, out));
      }
    }
  } else {
    return Unavailable(source + ": 'data' is neither an object nor an array");
  }
  Normalize(out);
  return out;
}

StatusOr<IntensitySeries> ParseElectricityMaps(const std::string& body, const std::string& source) {
  ASSIGN_OR_RETURN(json j, ParseJson(body, source));
  if (!j.is_object()) return Unavailable(source + ": expected a JSON object");
  if (auto e = j.find("error"); e != j.end())
    return Unavailable(source + ": " + (e->is_string() ? e->get<std::string>() : e->dump()));
  auto point = [&](const json& o, const std::string& where) -> StatusOr<std::optional<IntensityPoint>> {
    if (!o.is_object()) return Unavailable(where + ": expected an object");
    ASSIGN_OR_RETURN(Timestamp t, JsonTime(o, "datetime", where));
    auto ci = o.find("carbonIntensity");
    if (ci == o.end()) return Unavailable(where + ": 'carbonIntensity' is missing");
    if (ci->is_null()) return std::optional<IntensityPoint>();  // no data for that hour
    if (!ci->is_number() || ci->get<double>() < 0)
      return Unavailable(where + ".carbonIntensity: expected a number >= 0");
    IntensityPoint p;
    p.time = t;
    p.period = std::chrono::hours(1);
    p.gco2_per_kwh = ci->get<double>();
    p.estimated = o.value("isEstimated", false) == true;
    return std::optional<IntensityPoint>(p);
  };
  IntensitySeries out;
  const char* list_key = j.contains("history") ? "history" : j.contains("forecast") ? "forecast" : nullptr;
  if (list_key) {
    const json& arr = j[list_key];
    if (!arr.is_array()) return Unavailable(source + ": '" + list_key + "' is not an array");
    bool forecast = std::string(list_key) == "forecast";
    for (size_t i = 0; i < arr.size(); ++i) {
      ASSIGN_OR_RETURN(auto p, point(arr[i], source + ": " + list_key + "[" + std::to_string(i) + "]"));
      if (!p) continue;
      if (forecast) p->estimated = true;
      out.push_back(*p);
    }
  } else {
    ASSIGN_OR_RETURN(auto p, point(j, source));
    if (!p) return Unavailable(source + ": carbonIntensity is null (no recent data)");
    out.push_back(*p);
  }
  Normalize(out);
  return out;
}

namespace {

std::vector<std::string_view> SplitCsv(std::string_view line, std::vector<size_t>* starts) {
  std::vector<std::string_view> cells;
  size_t pos = 0;
  while (true) {
    size_t start = pos;
    if (starts) starts->push_back(start);
    if (pos < line.size() && line[pos] == '"') {
      size_t close = line.find('"', pos + 1);
      if (close == std::string_view::npos) close = line.size();
      cells.push_back(line.substr(pos + 1, close - pos - 1));
      pos = line.find(',', close);
    } else {
      size_t comma = line.find(',', pos);
      cells.push_back(line.substr(pos, comma == std::string_view::npos ? std::string_view::npos
                                                                        : comma - pos));
      pos = comma;
    }
    if (pos == std::string_view::npos) break;
    ++pos;
  }
  return cells;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool ParseNumber(std::string_view s, double& out) {
  s = Trim(s);
  if (s.empty()) return false;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc() && p == end && std::isfinite(out);
}

StatusOr<Timestamp> CsvTime(std::string_view s) {
  s = Trim(s);
  // "2024-01-01 00:00:00" and "2023-03-15T03:30" carry no offset: UTC.
  bool has_offset = !s.empty() && (s.back() == 'Z' || s.back() == 'z' ||
                                   (s.size() > 19 && (s[s.size() - 6] == '+' || s[s.size() - 6] == '-')));
  if (has_offset) return ParseTime(s);
  std::string z(s);
  z += 'Z';
  return ParseTime(z);
}

int IndexOf(const std::vector<std::string>& header, const std::string& name) {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return static_cast<int>(i);
  return -1;
}

}  // namespace

StatusOr<IntensitySeries> ParseIntensityCsv(const std::string& text, const std::string& source,
                                            const CsvTraceOptions& options) {
  std::string_view all(text);
  if (all.substr(0, 3) == "\xEF\xBB\xBF") all.remove_prefix(3);  // UTF-8 BOM
  size_t eol = all.find('\n');
  std::string_view first = all.substr(0, eol);
  std::vector<std::string> header;
  for (std::string_view c : SplitCsv(first, nullptr)) header.emplace_back(Trim(c));
  std::string joined;
  for (auto& h : header) joined += (joined.empty() ? "" : ", ") + ("\"" + h + "\"");

  int time_col = -1, value_col = -1, fallback_col = -1, to_col = -1;
  if (!options.time_column.empty()) time_col = IndexOf(header, options.time_column);
  if (!options.value_column.empty()) value_col = IndexOf(header, options.value_column);
  if (!options.time_column.empty() && time_col < 0)
    return InvalidArgument(source + ":1: no column '" + options.time_column + "'; the header has " + joined);
  if (!options.value_column.empty() && value_col < 0)
    return InvalidArgument(source + ":1: no column '" + options.value_column + "'; the header has " + joined);
  if (time_col < 0) {
    for (const char* n : {"Datetime (UTC)", "Time", "from", "time", "datetime", "date_heure"})
      if ((time_col = IndexOf(header, n)) >= 0) break;
  }
  if (value_col < 0) {
    if ((value_col = IndexOf(header, "actual")) >= 0) {
      fallback_col = IndexOf(header, "forecast");
    } else if ((value_col = IndexOf(header, "intensity.actual")) >= 0) {
      fallback_col = IndexOf(header, "intensity.forecast");
    } else {
      for (const char* n : {"Carbon Intensity gCO\u2082eq/kWh (LCA)", "Carbon Intensity",
                            "intensity", "carbonIntensity", "taux_co2", "forecast"})
        if ((value_col = IndexOf(header, n)) >= 0) break;
    }
  }
  to_col = IndexOf(header, "to");
  if (time_col < 0 || value_col < 0)
    return InvalidArgument(
        source + ":1: unknown CSV header (" + joined +
        "); accepted: Electricity Maps yearly files (\"Datetime (UTC)\", \"Carbon Intensity "
        "gCO\u2082eq/kWh (LCA)\"), Let's Wait Awhile (\"Time\", \"Carbon Intensity\"), NESO "
        "(\"from\", \"to\", \"forecast\", \"actual\"), CATS (\"time\", \"intensity\"), or name the "
        "columns with time_column and value_column");

  IntensitySeries out;
  out.reserve(static_cast<size_t>(std::count(all.begin(), all.end(), '\n')) + 1);
  std::vector<Timestamp> ends;  // from a "to" column, when there is one
  size_t pos = eol == std::string_view::npos ? all.size() : eol + 1;
  int line_no = 1;
  std::vector<size_t> starts;
  while (pos < all.size()) {
    ++line_no;
    size_t next = all.find('\n', pos);
    std::string_view line = all.substr(pos, next == std::string_view::npos ? std::string_view::npos
                                                                           : next - pos);
    pos = next == std::string_view::npos ? all.size() : next + 1;
    if (Trim(line).empty()) continue;
    starts.clear();
    auto cells = SplitCsv(line, &starts);
    auto where = [&](int col) {
      return source + ":" + std::to_string(line_no) + ":" +
             std::to_string(col < static_cast<int>(starts.size()) ? starts[static_cast<size_t>(col)] + 1 : 1);
    };
    int need = std::max({time_col, value_col, to_col, fallback_col});
    if (static_cast<int>(cells.size()) <= need)
      return InvalidArgument(where(0) + ": " + std::to_string(cells.size()) + " columns, the header has " +
                             std::to_string(header.size()));
    auto t = CsvTime(cells[static_cast<size_t>(time_col)]);
    if (!t.ok()) return InvalidArgument(where(time_col) + ": " + t.status().message());
    IntensityPoint p;
    p.time = *t;
    double v;
    if (ParseNumber(cells[static_cast<size_t>(value_col)], v)) {
      p.gco2_per_kwh = v;
    } else if (fallback_col >= 0 && Trim(cells[static_cast<size_t>(value_col)]).empty() &&
               ParseNumber(cells[static_cast<size_t>(fallback_col)], v)) {
      p.gco2_per_kwh = v;
      p.estimated = true;
    } else if (Trim(cells[static_cast<size_t>(value_col)]).empty()) {
      continue;  // no value for this interval: a gap
    } else {
      return InvalidArgument(where(value_col) + ": '" + std::string(cells[static_cast<size_t>(value_col)]) +
                             "' is not a number (column \"" + header[static_cast<size_t>(value_col)] + "\")");
    }
    if (p.gco2_per_kwh < 0)
      return InvalidArgument(where(value_col) + ": negative intensity " + std::to_string(v));
    if (!out.empty() && p.time <= out.back().time)
      return InvalidArgument(where(time_col) + ": time " + FormatTime(p.time) +
                             " is not after the previous row's " + FormatTime(out.back().time) +
                             "; rows must be in time order");
    if (to_col >= 0) {
      auto e = CsvTime(cells[static_cast<size_t>(to_col)]);
      if (!e.ok()) return InvalidArgument(where(to_col) + ": " + e.status().message());
      if (*e <= p.time) return InvalidArgument(where(to_col) + ": 'to' is not after 'from'");
      ends.push_back(*e);
    }
    out.push_back(p);
  }
  if (out.empty()) return InvalidArgument(source + ": no rows with a value");
  // The usual step: the most common gap between rows (robust to missing rows).
  std::map<int64_t, int> steps;
  for (size_t i = 1; i < out.size(); ++i)
    ++steps[std::chrono::duration_cast<Duration>(out[i].time - out[i - 1].time).count()];
  Duration step = std::chrono::hours(1);
  int best = 0;
  for (auto& [ms, n] : steps)
    if (n > best) best = n, step = Duration(ms);
  for (size_t i = 0; i < out.size(); ++i) {
    if (!ends.empty()) {
      out[i].period = std::chrono::duration_cast<Duration>(ends[i] - out[i].time);
    } else {
      Duration to_next = i + 1 < out.size()
                             ? std::chrono::duration_cast<Duration>(out[i + 1].time - out[i].time)
                             : step;
      out[i].period = std::min(step, to_next);
    }
  }
  return out;
}

}  // namespace carbon

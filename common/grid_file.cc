#include "common/grid_file.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/paths.h"
#include "common/time_util.h"

namespace carbon {

Status WriteGridFile(const std::string& run_dir, const GridReading& reading, Timestamp at) {
  std::error_code ec;
  std::filesystem::create_directories(run_dir, ec);
  nlohmann::ordered_json j = {{"zone", reading.zone},
                              {"gco2_per_kwh", reading.gco2_per_kwh},
                              {"source", reading.source},
                              {"at", FormatTime(at)}};
  return WriteFileAtomically(run_dir + "/grid.json", j.dump() + "\n");
}

StatusOr<GridReading> ParseGridFile(const std::string& text, const std::string& file) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return InvalidArgument(file + ": not a JSON object; expected {\"zone\", \"gco2_per_kwh\", \"source\"}");
  auto g = j.find("gco2_per_kwh");
  if (g == j.end() || !g->is_number() || g->get<double>() < 0)
    return InvalidArgument(file + ": 'gco2_per_kwh' must be a number >= 0");
  GridReading r;
  r.gco2_per_kwh = g->get<double>();
  if (auto s = j.find("source"); s != j.end() && s->is_string()) r.source = s->get<std::string>();
  if (auto z = j.find("zone"); z != j.end() && z->is_string()) r.zone = z->get<std::string>();
  return r;
}

}  // namespace carbon

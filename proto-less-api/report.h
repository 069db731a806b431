// Reports on finished runs: one self-contained HTML page (inline SVG, no
// script, nothing fetched at view time) or the same tables as Markdown.
// Pure rendering: carbonctl gathers the data over the API.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/compare.h"
#include "common/intensity.h"
#include "proto-less-api/client.h"

namespace carbon::report {

struct Run {
  api::JobDetail detail;
  std::string zone;
  IntensitySeries readings;     // recorded for the zone from submission to the end
  IntensitySeries forecast;     // the forecast newest at submission (what the policy saw)
  std::string forecast_source;
};

struct Input {
  std::vector<Run> runs;
  // Baseline and candidate, when the report compares two runs.
  std::optional<std::pair<RunSummary, RunSummary>> comparison;
  nlohmann::json candidate_savings;  // the candidate's counterfactual saving, or null
  Timestamp generated_at{};
};

std::string RenderHtml(const Input& in);
std::string RenderMarkdown(const Input& in);

}  // namespace carbon::report

#include "proto-less-api/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/time_util.h"
#include "common/units.h"

namespace carbon::report {
namespace {

const char* kColors[] = {"#1b6ca8", "#d1495b", "#2e933c", "#edae49", "#6a4c93", "#00798c"};

std::string Esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string Fmt(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

double Secs(Timestamp t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

std::string ShortTime(double secs) {
  const Timestamp t{std::chrono::duration_cast<Timestamp::duration>(std::chrono::duration<double>(secs))};
  const std::string s = FormatTime(t);  // 2026-11-26T17:00:00.000Z
  return s.substr(5, 5) + " " + s.substr(11, 5);
}

// A NaN y breaks the line (a gap in the recorded series).
struct Line {
  std::string label, color;
  std::vector<std::pair<double, double>> xy;
  bool dashed = false;
};
const double kBreak = std::nan("");
struct Band {
  double x0, x1;
  std::string color, label;
};

// A line chart with axes, ticks, optional shaded x-bands and a legend.
std::string LineChart(const std::string& title, const std::string& y_label, const std::vector<Line>& lines,
                      const std::vector<Band>& bands, bool x_is_time, const std::string& x_label,
                      bool integer_x = false) {
  // The plot takes H; the legend goes below it, one entry a line, outside
  // the plot area, so it never hides a series.
  const double W = 760, H = 280, L = 64, R = 16, T = 34, B = 46, kLegendLine = 16;
  const double total_h = H + 6 + kLegendLine * static_cast<double>(lines.size() + bands.size());
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const auto& l : lines)
    for (auto [x, y] : l.xy) {
      if (std::isnan(y)) continue;
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y0 = std::min(y0, y);
      y1 = std::max(y1, y);
    }
  for (const auto& b : bands) {
    x0 = std::min(x0, b.x0);
    x1 = std::max(x1, b.x1);
  }
  std::string svg = "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + Fmt("%.0f", W) +
                    " " + Fmt("%.0f", total_h) + "\" width=\"" + Fmt("%.0f", W) + "\" height=\"" +
                    Fmt("%.0f", total_h) + "\" role=\"img\" aria-label=\"" + Esc(title) + "\" data-plot-bottom=\"" +
                    Fmt("%.0f", H - B) + "\">";
  svg += "<text x=\"" + Fmt("%.0f", L) + "\" y=\"20\" class=\"title\">" + Esc(title) + "</text>";
  if (x0 > x1) return svg + "<text x=\"80\" y=\"140\">no data</text></svg>";
  if (y0 == y1) {
    y0 -= 1;
    y1 += 1;
  }
  y0 = std::min(y0, 0.0);
  y1 += (y1 - y0) * 0.08;
  if (x0 == x1) x1 = x0 + 1;
  auto X = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto Y = [&](double y) { return T + (1 - (y - y0) / (y1 - y0)) * (H - T - B); };
  for (const auto& b : bands) {
    svg += "<rect x=\"" + Fmt("%.1f", X(b.x0)) + "\" y=\"" + Fmt("%.1f", T) + "\" width=\"" +
           Fmt("%.1f", std::max(1.5, X(b.x1) - X(b.x0))) + "\" height=\"" + Fmt("%.1f", H - T - B) + "\" fill=\"" +
           b.color + "\" opacity=\"0.18\"><title>" + Esc(b.label) + "</title></rect>";
  }
  // Axes and ticks.
  svg += "<line x1=\"" + Fmt("%.0f", L) + "\" y1=\"" + Fmt("%.0f", H - B) + "\" x2=\"" + Fmt("%.0f", W - R) +
         "\" y2=\"" + Fmt("%.0f", H - B) + "\" stroke=\"#444\"/>";
  svg += "<line x1=\"" + Fmt("%.0f", L) + "\" y1=\"" + Fmt("%.0f", T) + "\" x2=\"" + Fmt("%.0f", L) + "\" y2=\"" +
         Fmt("%.0f", H - B) + "\" stroke=\"#444\"/>";
  for (int i = 0; i <= 4; ++i) {
    const double y = y0 + (y1 - y0) * i / 4;
    const double a = std::fabs(y1 - y0);
    svg += "<text class=\"tick\" x=\"" + Fmt("%.0f", L - 6) + "\" y=\"" + Fmt("%.1f", Y(y) + 4) +
           "\" text-anchor=\"end\">" + Fmt(a < 0.01 ? "%.2e" : a < 10 ? "%.3g" : "%.0f", y) + "</text>";
  }
  const int x_ticks = integer_x ? static_cast<int>(std::min(8.0, x1 - x0)) : 4;
  for (int i = 0; i <= x_ticks; ++i) {
    double x = x0 + (x1 - x0) * i / x_ticks;
    if (integer_x) x = std::round(x);
    svg += "<text class=\"tick\" x=\"" + Fmt("%.1f", X(x)) + "\" y=\"" + Fmt("%.0f", H - B + 16) +
           "\" text-anchor=\"middle\">" + (x_is_time ? ShortTime(x) : Fmt("%.6g", x)) + "</text>";
  }
  svg += "<text class=\"axis\" x=\"" + Fmt("%.0f", (L + W - R) / 2) + "\" y=\"" + Fmt("%.0f", H - 8) +
         "\" text-anchor=\"middle\">" + Esc(x_label) + "</text>";
  svg += "<text class=\"axis\" transform=\"translate(14," + Fmt("%.0f", (T + H - B) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + Esc(y_label) + "</text>";
  // The legend: below the axis label, a swatch and the label a line.
  double legend_y = H + 6 + kLegendLine - 4;
  auto legend = [&](const std::string& label, const std::string& color, bool dashed, bool band) {
    const std::string y = Fmt("%.0f", legend_y - 4);
    if (band)
      svg += "<rect class=\"swatch\" x=\"" + Fmt("%.0f", L) + "\" y=\"" + Fmt("%.0f", legend_y - 10) +
             "\" width=\"22\" height=\"10\" fill=\"" + color + "\" opacity=\"0.35\"/>";
    else
      svg += "<line class=\"swatch\" x1=\"" + Fmt("%.0f", L) + "\" y1=\"" + y + "\" x2=\"" + Fmt("%.0f", L + 22) +
             "\" y2=\"" + y + "\" stroke=\"" + color + "\" stroke-width=\"2\"" +
             (dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>";
    svg += "<text class=\"legend\" x=\"" + Fmt("%.0f", L + 28) + "\" y=\"" + Fmt("%.0f", legend_y) + "\" fill=\"" +
           color + "\">" + Esc(label) + "</text>";
    legend_y += kLegendLine;
  };
  for (const auto& l : lines) {
    std::vector<std::string> parts(1);
    for (auto [x, y] : l.xy) {
      if (std::isnan(y)) {
        if (!parts.back().empty()) parts.emplace_back();
        continue;
      }
      parts.back() += Fmt("%.1f", X(x)) + "," + Fmt("%.1f", Y(y)) + " ";
    }
    for (const auto& pts : parts) {
      if (pts.empty()) continue;
      svg += "<polyline class=\"series\" fill=\"none\" stroke=\"" + l.color + "\" stroke-width=\"2\"" +
             (l.dashed ? " stroke-dasharray=\"6 4\"" : "") + " points=\"" + pts + "\"><title>" + Esc(l.label) +
             "</title></polyline>";
    }
    if (l.xy.size() == 1)
      svg += "<circle cx=\"" + Fmt("%.1f", X(l.xy[0].first)) + "\" cy=\"" + Fmt("%.1f", Y(l.xy[0].second)) +
             "\" r=\"3\" fill=\"" + l.color + "\"/>";
    legend(l.label, l.color, l.dashed, /*band=*/false);
  }
  for (const auto& b : bands) legend(b.label, b.color, false, /*band=*/true);
  return svg + "</svg>";
}

// Grouped bars: one group per category (epoch), one bar per run.
std::string BarChart(const std::string& title, const std::string& y_label, const std::vector<std::string>& groups,
                     const std::vector<std::pair<std::string, std::vector<double>>>& runs) {
  const double W = 760, H = 260, L = 64, R = 16, T = 34, B = 40, kLegendLine = 16;
  const double total_h = H + 6 + kLegendLine * static_cast<double>(runs.size());  // the legend below the plot
  double y1 = 0;
  for (const auto& r : runs)
    for (double v : r.second) y1 = std::max(y1, v);
  if (y1 <= 0) y1 = 1;
  y1 *= 1.1;
  std::string svg = "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + Fmt("%.0f", W) +
                    " " + Fmt("%.0f", total_h) + "\" width=\"" + Fmt("%.0f", W) + "\" height=\"" +
                    Fmt("%.0f", total_h) + "\" role=\"img\" aria-label=\"" + Esc(title) + "\" data-plot-bottom=\"" +
                    Fmt("%.0f", H - B) + "\">";
  svg += "<text x=\"" + Fmt("%.0f", L) + "\" y=\"20\" class=\"title\">" + Esc(title) + "</text>";
  svg += "<line x1=\"" + Fmt("%.0f", L) + "\" y1=\"" + Fmt("%.0f", H - B) + "\" x2=\"" + Fmt("%.0f", W - R) +
         "\" y2=\"" + Fmt("%.0f", H - B) + "\" stroke=\"#444\"/>";
  svg += "<text class=\"axis\" transform=\"translate(14," + Fmt("%.0f", (T + H - B) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + Esc(y_label) + "</text>";
  for (int i = 0; i <= 4; ++i) {
    const double v = y1 * i / 4;
    const double y = T + (1 - v / y1) * (H - T - B);
    svg += "<text class=\"tick\" x=\"" + Fmt("%.0f", L - 6) + "\" y=\"" + Fmt("%.1f", y + 4) +
           "\" text-anchor=\"end\">" + ThreeSignificant(v) + "</text>";
  }
  const double gw = (W - L - R) / static_cast<double>(std::max<size_t>(groups.size(), 1));
  const double bw = std::min(40.0, gw * 0.8 / static_cast<double>(std::max<size_t>(runs.size(), 1)));
  for (size_t g = 0; g < groups.size(); ++g) {
    const double gx = L + gw * static_cast<double>(g) + (gw - bw * static_cast<double>(runs.size())) / 2;
    for (size_t r = 0; r < runs.size(); ++r) {
      if (g >= runs[r].second.size()) continue;
      const double v = runs[r].second[g];
      const double h = v / y1 * (H - T - B);
      svg += "<rect class=\"bar\" x=\"" + Fmt("%.1f", gx + bw * static_cast<double>(r)) + "\" y=\"" +
             Fmt("%.1f", H - B - h) + "\" width=\"" + Fmt("%.1f", bw - 2) + "\" height=\"" + Fmt("%.1f", h) +
             "\" fill=\"" + kColors[r % 6] + "\"><title>" + Esc(runs[r].first) + ": " + Fmt("%.4g", v) +
             "</title></rect>";
    }
    svg += "<text class=\"tick\" x=\"" + Fmt("%.1f", L + gw * (static_cast<double>(g) + 0.5)) + "\" y=\"" +
           Fmt("%.0f", H - B + 16) + "\" text-anchor=\"middle\">" + Esc(groups[g]) + "</text>";
  }
  for (size_t r = 0; r < runs.size(); ++r) {
    const double y = H + 6 + kLegendLine * static_cast<double>(r + 1) - 4;
    svg += "<rect class=\"swatch\" x=\"" + Fmt("%.0f", L) + "\" y=\"" + Fmt("%.0f", y - 10) +
           "\" width=\"22\" height=\"10\" fill=\"" + kColors[r % 6] + "\"/>";
    svg += "<text class=\"legend\" x=\"" + Fmt("%.0f", L + 28) + "\" y=\"" + Fmt("%.0f", y) + "\" fill=\"" +
           kColors[r % 6] + "\">" + Esc(runs[r].first) + "</text>";
  }
  return svg + "</svg>";
}

std::string RunLabel(const Run& r) { return "job " + std::to_string(r.detail.job.id) + " " + r.detail.job.name; }

std::string IntensityChart(const Run& r) {
  std::vector<Line> lines;
  Line rec{"recorded (" + r.zone + ")", kColors[0], {}, false};
  for (size_t i = 0; i < r.readings.size(); ++i) {
    const auto& p = r.readings[i];
    if (i > 0 && p.time > r.readings[i - 1].end()) rec.xy.push_back({Secs(p.time), kBreak});  // not recorded
    rec.xy.push_back({Secs(p.time), p.gco2_per_kwh});
    rec.xy.push_back({Secs(p.end()), p.gco2_per_kwh});
  }
  Line fc{"forecast at submission" + (r.forecast_source.empty() ? "" : " (" + r.forecast_source + ")"), kColors[3],
          {}, true};
  for (const auto& p : r.forecast) fc.xy.push_back({Secs(p.time), p.gco2_per_kwh});
  if (!rec.xy.empty()) lines.push_back(rec);
  if (!fc.xy.empty()) lines.push_back(fc);
  std::vector<Band> bands;
  const JobRecord& j = r.detail.job;
  if (j.started && *j.started > j.submitted) bands.push_back({Secs(j.submitted), Secs(*j.started), "#888888", "wait"});
  if (j.started)
    bands.push_back({Secs(*j.started), Secs(j.finished.value_or(*j.started + std::chrono::seconds(1))), "#2e933c",
                     "run"});
  else
    bands.push_back({Secs(j.submitted), Secs(j.submitted) + 60, "#888888", "submitted"});
  return LineChart("Grid intensity: " + RunLabel(r), "gCO2/kWh", lines, bands, true, "time (UTC)");
}

std::string Td(const std::string& s) { return "<td>" + Esc(s) + "</td>"; }

struct Table {
  std::vector<std::string> head;
  std::vector<std::vector<std::string>> rows;
};

Table ComparisonTable(const RunSummary& b, const RunSummary& c) {
  Table t{{"figure", "baseline (job " + std::to_string(b.job_id) + ")", "candidate (job " + std::to_string(c.job_id) + ")",
           "difference", "change"},
          {}};
  for (const CompareRow& row : CompareRuns(b, c)) {
    auto pct = row.pct();
    const bool own_unit = row.unit == "kWh" || row.unit == "kg";  // each cell carries it (common/units.h)
    t.rows.push_back({own_unit ? row.label : row.label + " (" + row.unit + ")", FormatCompareValue(row.baseline, row.unit),
                      FormatCompareValue(row.candidate, row.unit),
                      FormatCompareValue(row.diff(), row.unit), pct ? Fmt("%+.1f%%", *pct) : "-"});
  }
  return t;
}

Table EpochTable(const Run& r) {
  Table t{{"epoch", "train loss", "test loss", "accuracy", "wall s", "peak MB", "added MB", "energy", "CO2", "g/kWh",
           "intensity source"},
          {}};
  for (const auto& e : r.detail.epochs)
    t.rows.push_back({std::to_string(e.epoch), Fmt("%.4f", e.train_loss), Fmt("%.4f", e.test_loss),
                      Fmt("%.2f%%", e.test_accuracy * 100), Fmt("%.2f", e.wall_s),
                      Fmt("%.1f", static_cast<double>(e.peak_memory_bytes) / (1024.0 * 1024.0)),
                      e.memory_added_bytes ? Fmt("%.1f", static_cast<double>(*e.memory_added_bytes) / (1024.0 * 1024.0))
                                           : "-",
                      FormatEnergy(e.energy_kwh), e.kg_co2 ? FormatCo2(*e.kg_co2) : "-",
                      e.gco2_per_kwh ? Fmt("%.1f", *e.gco2_per_kwh) : "-", e.intensity_source});
  return t;
}

Table MethodsTable(const std::vector<Run>& runs) {
  Table t{{"job", "CPU energy", "GPU energy", "RAM energy", "peak memory", "CO2", "zone"}, {}};
  for (const Run& r : runs) {
    if (r.detail.epochs.empty()) {
      t.rows.push_back({RunLabel(r), "-", "-", "-", "-", "-", r.zone});
      continue;
    }
    const auto& e = r.detail.epochs.back();
    t.rows.push_back({RunLabel(r), e.cpu_method, e.gpu_method, e.ram_method,
                      e.memory_method + "; added = peak - the memory held before the first training step",
                      "each sampling interval's energy x the intensity then (" + e.intensity_source + ")", r.zone});
  }
  return t;
}

std::string HtmlTable(const Table& t) {
  std::string s = "<table><thead><tr>";
  for (const auto& h : t.head) s += "<th>" + Esc(h) + "</th>";
  s += "</tr></thead><tbody>";
  for (const auto& row : t.rows) {
    s += "<tr>";
    for (const auto& c : row) s += Td(c);
    s += "</tr>";
  }
  return s + "</tbody></table>";
}

std::string MdTable(const Table& t) {
  auto cell = [](std::string c) {
    for (size_t i = 0; (i = c.find('|', i)) != std::string::npos; i += 2) c.replace(i, 1, "\\|");
    return c;
  };
  std::string s = "|";
  for (const auto& h : t.head) s += " " + cell(h) + " |";
  s += "\n|";
  for (size_t i = 0; i < t.head.size(); ++i) s += "---|";
  s += "\n";
  for (const auto& row : t.rows) {
    s += "|";
    for (const auto& c : row) s += " " + cell(c) + " |";
    s += "\n";
  }
  return s;
}

std::string SavingsSentence(const nlohmann::json& s) {
  if (!s.is_object()) return "";
  std::string out = "Had the candidate started at submission it would have run at " +
                    Fmt("%.0f", s.value("counterfactual_mean_gco2_per_kwh", 0.0)) + " gCO2/kWh instead of " +
                    Fmt("%.0f", s.value("run_mean_gco2_per_kwh", 0.0)) + ": waiting saved " +
                    Fmt("%.1f", s.value("saving_pct", 0.0)) + "% of its emissions";
  if (s["saving_kg"].is_number()) out += " (" + FormatCo2(s["saving_kg"].get<double>()) + " CO2)";
  return out + ".";
}

}  // namespace

std::string RenderHtml(const Input& in) {
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>carbond report</title><style>"
      "body{font-family:sans-serif;max-width:800px;margin:2em auto;color:#222}"
      "table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:3px 8px;"
      "text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
      "svg.chart{display:block;margin:1em 0;background:#fcfcfc;border:1px solid #eee}"
      ".title{font-weight:bold;font-size:14px}.tick{font-size:11px;fill:#555}.axis{font-size:12px;fill:#333}"
      ".legend{font-size:12px}</style></head><body>\n";
  h += "<h1>carbond report</h1><p>Generated " + Esc(FormatTime(in.generated_at)) + " for ";
  for (size_t i = 0; i < in.runs.size(); ++i) h += (i ? ", " : "") + Esc(RunLabel(in.runs[i]));
  h += ". Every figure was measured in these runs and read from carbond's database.</p>\n";
  if (in.comparison) {
    h += "<h2>Carbon savings vs baseline</h2>" +
         HtmlTable(ComparisonTable(in.comparison->first, in.comparison->second));
    if (auto s = SavingsSentence(in.candidate_savings); !s.empty()) h += "<p>" + Esc(s) + "</p>";
    h += "\n";
  }
  h += "<h2>Grid intensity, wait and run</h2>\n";
  for (const Run& r : in.runs) h += IntensityChart(r) + "\n";
  std::vector<std::string> epochs;
  size_t most = 0;
  for (const Run& r : in.runs) most = std::max(most, r.detail.epochs.size());
  for (size_t i = 0; i < most; ++i) epochs.push_back("epoch " + std::to_string(i + 1));
  std::vector<std::pair<std::string, std::vector<double>>> energy, co2, memory;
  std::vector<Line> loss, accuracy;
  for (size_t k = 0; k < in.runs.size(); ++k) {
    const Run& r = in.runs[k];
    std::vector<double> wh, g;  // kWh and kg here; scaled to the axis' unit below
    Line tl{RunLabel(r) + " train", kColors[k % 6], {}, false}, vl{RunLabel(r) + " test", kColors[k % 6], {}, true};
    Line acc{RunLabel(r), kColors[k % 6], {}, false};
    double peak = 0;
    for (const auto& e : r.detail.epochs) {
      wh.push_back(e.energy_kwh);
      g.push_back(e.kg_co2.value_or(0));
      tl.xy.push_back({static_cast<double>(e.epoch), e.train_loss});
      vl.xy.push_back({static_cast<double>(e.epoch), e.test_loss});
      acc.xy.push_back({static_cast<double>(e.epoch), e.test_accuracy * 100});
      peak = std::max(peak, static_cast<double>(e.peak_memory_bytes) / (1024.0 * 1024.0));
    }
    energy.push_back({RunLabel(r), wh});
    co2.push_back({RunLabel(r), g});
    memory.push_back({RunLabel(r), {peak}});
    loss.push_back(tl);
    loss.push_back(vl);
    accuracy.push_back(acc);
  }
  // Each axis in the unit that suits its largest bar (common/units.h).
  auto scale = [](std::vector<std::pair<std::string, std::vector<double>>>& runs, bool is_energy) {
    double max = 0;
    for (const auto& r : runs)
      for (double v : r.second) max = std::max(max, v);
    const Unit u = is_energy ? EnergyUnit(max) : Co2Unit(max);
    for (auto& r : runs)
      for (double& v : r.second) v *= u.per_base;
    return std::string(u.name);
  };
  const std::string energy_unit = scale(energy, true), co2_unit = scale(co2, false);
  h += "<h2>Energy and CO2 per epoch</h2>\n" + BarChart("Energy per epoch", energy_unit, epochs, energy) + "\n" +
       BarChart("CO2 per epoch", co2_unit + " CO2", epochs, co2) + "\n";
  h += "<h2>Training</h2>\n" + LineChart("Loss", "loss", loss, {}, false, "epoch", true) + "\n" +
       LineChart("Test accuracy", "%", accuracy, {}, false, "epoch", true) + "\n" +
       BarChart("Peak memory", "MB", {"peak"}, memory) + "\n";
  h += "<h2>Epochs</h2>\n";
  for (const Run& r : in.runs) h += "<h3>" + Esc(RunLabel(r)) + "</h3>" + HtmlTable(EpochTable(r)) + "\n";
  h += "<h2>Methods</h2>" + HtmlTable(MethodsTable(in.runs)) +
       "<p>Energy: CodeCarbon's methodology (RAPL or the TDP model for the CPU, NVML for GPUs, the DIMM model for "
       "RAM), sampled within each epoch. Intensity: the readings carbond recorded for the zone; the dashed line is "
       "the forecast that was newest when the job was submitted.</p>\n";
  return h + "</body></html>\n";
}

std::string RenderMarkdown(const Input& in) {
  std::string m = "# carbond report\n\nGenerated " + FormatTime(in.generated_at) + ". Every figure was measured in "
                  "these runs and read from carbond's database.\n\n";
  if (in.comparison) {
    m += "## Carbon savings vs baseline\n\n" + MdTable(ComparisonTable(in.comparison->first, in.comparison->second));
    if (auto s = SavingsSentence(in.candidate_savings); !s.empty()) m += "\n" + s + "\n";
    m += "\n";
  }
  for (const Run& r : in.runs) {
    const JobRecord& j = r.detail.job;
    m += "## " + RunLabel(r) + "\n\n" + JobStateName(j.state) + ", policy " + j.policy + ", zone " + r.zone +
         "; submitted " + FormatTime(j.submitted) + (j.started ? ", started " + FormatTime(*j.started) : "") +
         (j.finished ? ", finished " + FormatTime(*j.finished) : "") + ".\n\n" + MdTable(EpochTable(r)) + "\n";
  }
  m += "## Methods\n\n" + MdTable(MethodsTable(in.runs));
  return m;
}

}  // namespace carbon::report

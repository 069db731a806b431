#include "daemon/http/metrics.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace carbon::metrics {
namespace {

std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[40];
  for (int precision = 1; precision <= 17; ++precision) {  // the shortest text that reads back the same
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}


}  // namespace

void Writer::Family(const std::string& name, const std::string& type, const std::string& help) {
  std::string h;
  for (char c : help) h += c == '\n' ? std::string("\\n") : c == '\\' ? std::string("\\\\") : std::string(1, c);
  out_ += "# HELP " + name + " " + h + "\n# TYPE " + name + " " + type + "\n";
}

void Writer::Sample(const std::string& name, const Labels& labels, double value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += "{";
    for (size_t i = 0; i < labels.size(); ++i)
      out_ += (i ? "," : "") + labels[i].first + "=\"" + Escape(labels[i].second) + "\"";
    out_ += "}";
  }
  out_ += " " + Number(value) + "\n";
}

void ApiMetrics::Observe(const std::string& route, const std::string& method, int status, double seconds) {
  static const char* kMethods[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"};
  std::string m = "other";
  for (const char* k : kMethods)
    if (method == k) m = k;
  ++requests_[{route, m, std::to_string(status)}];
  Histogram& h = latency_[route];
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  ++h.count;
  h.sum += seconds;
}

void ApiMetrics::Write(Writer& w) const {
  w.Family("carbond_api_requests_total", "counter", "API requests answered, by route, method and HTTP status.");
  for (const auto& [key, n] : requests_)
    w.Sample("carbond_api_requests_total",
             {{"route", std::get<0>(key)}, {"method", std::get<1>(key)}, {"code", std::get<2>(key)}},
             static_cast<double>(n));
  w.Family("carbond_api_request_duration_seconds", "histogram",
           "Time from a parsed request to its response, by route.");
  for (const auto& [route, h] : latency_) {
    for (size_t i = 0; i < kBuckets.size(); ++i)
      w.Sample("carbond_api_request_duration_seconds_bucket", {{"route", route}, {"le", Number(kBuckets[i])}},
               static_cast<double>(h.buckets[i]));
    w.Sample("carbond_api_request_duration_seconds_bucket", {{"route", route}, {"le", "+Inf"}},
             static_cast<double>(h.count));
    w.Sample("carbond_api_request_duration_seconds_sum", {{"route", route}}, h.sum);
    w.Sample("carbond_api_request_duration_seconds_count", {{"route", route}}, static_cast<double>(h.count));
  }
}

}  // namespace carbon::metrics

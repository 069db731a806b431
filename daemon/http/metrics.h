// Prometheus metrics (GET /metrics, text exposition format 0.0.4): a writer
// that keeps each family's HELP and TYPE before its samples and escapes label
// values, and the API's request counters and latency histograms by route.
// Event-loop thread only.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace carbon::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Writer {
 public:
  // Starts a family; type is counter, gauge or histogram.
  void Family(const std::string& name, const std::string& type, const std::string& help);
  // A sample of the current family (name may add _bucket, _sum, _count).
  void Sample(const std::string& name, const Labels& labels, double value);
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

class ApiMetrics {
 public:
  static constexpr std::array<double, 10> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                      0.025,  0.05,  0.1,    0.5,   1.0};
  // `route`: the router's pattern ("/v1/jobs/{id}/cancel") or "other" for a
  // path no route matches, so a client cannot grow the label set.
  void Observe(const std::string& route, const std::string& method, int status, double seconds);
  void Write(Writer& w) const;

 private:
  std::map<std::tuple<std::string, std::string, std::string>, uint64_t> requests_;  // route, method, code
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};  // cumulative: requests <= each bound
    uint64_t count = 0;
    double sum = 0;
  };
  std::map<std::string, Histogram> latency_;  // by route
};

}  // namespace carbon::metrics

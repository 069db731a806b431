#include "daemon/intensity/make_sources.h"

#include <spdlog/spdlog.h>

#include "daemon/intensity/local_sources.h"
#include "daemon/intensity/web_sources.h"

namespace carbon {

HttpClientOptions HttpOptionsFrom(const HttpClientConfig& c) {
  HttpClientOptions o;
  o.connect_timeout = c.connect_timeout;
  o.request_timeout = c.request_timeout;
  o.max_body_bytes = static_cast<size_t>(c.max_body_bytes);
  o.retries = static_cast<int>(c.retries);
  o.backoff = c.backoff;
  o.max_retry_after = c.max_retry_after;
  o.ca_file = c.ca_file;
  return o;
}

StatusOr<std::vector<std::unique_ptr<IntensitySource>>> MakeIntensitySources(
    const IntensityConfig& config, HttpClient& http) {
  std::vector<std::unique_ptr<IntensitySource>> chain;
  for (const std::string& name : config.chain) {
    if (name == "uk") {
      chain.push_back(std::make_unique<UkSource>(http, config.uk));
    } else if (name == "electricitymaps") {
      auto em = std::make_unique<ElectricityMapsSource>(http, config.electricitymaps);
      if (em->token_origin().empty())
        spdlog::warn("intensity: electricitymaps has no token; it will fail over to the next source");
      else
        spdlog::info("intensity: electricitymaps token from {}", em->token_origin());
      chain.push_back(std::move(em));
    } else if (name == "mock") {
      chain.push_back(std::make_unique<MockSource>(config.mock, !config.mock_utc_offset_set));
    } else if (name == "trace") {
      ASSIGN_OR_RETURN(auto trace, TraceSource::Load(config.trace));
      spdlog::info("intensity: trace {} holds {} points", config.trace.path, trace->series().size());
      chain.push_back(std::move(trace));
    } else if (name == "static") {
      chain.push_back(std::make_unique<StaticSource>(config.static_value.value_or(0)));
    } else {
      return InvalidArgument("intensity.chain: unknown source '" + name + "'", "intensity.chain");
    }
  }
  return chain;
}

}  // namespace carbon

// Builds the configured chain of intensity sources (intensity.chain).
#pragma once

#include <memory>
#include <vector>

#include "common/config.h"
#include "daemon/intensity/http_client.h"
#include "daemon/core/intensity_source.h"

namespace carbon {

// `http` must outlive the sources. Fails when a source cannot be built (a
// trace file that cannot be read or parsed), naming the config field.
StatusOr<std::vector<std::unique_ptr<IntensitySource>>> MakeIntensitySources(
    const IntensityConfig& config, HttpClient& http);

HttpClientOptions HttpOptionsFrom(const HttpClientConfig& c);

}  // namespace carbon

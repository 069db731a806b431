// carbond's side of carbond-gpucap (daemon/gpucap/gpucap_server.h): one
// request over the helper's unix socket, blocking for at most `timeout`
// (a local root helper answers in milliseconds).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"

namespace carbon::gpucap {

// The answer of an {"ok":true} request. UNAVAILABLE "helper not running
// (...)" when nothing listens at `socket_path`; FAILED_PRECONDITION with the
// helper's error when it refused.
StatusOr<nlohmann::json> Call(const std::string& socket_path, const nlohmann::json& request,
                              std::chrono::milliseconds timeout = std::chrono::seconds(3));

}  // namespace carbon::gpucap

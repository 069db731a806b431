// HttpClient: asynchronous HTTP/1.1 GET over TCP or TLS (Boost.Beast, OpenSSL
// through Asio) for the intensity sources. TLS verifies the peer against the
// system CA store (or `ca_file`), sends SNI and checks the host name.
//
// Each attempt has a connect timeout and an overall deadline; the body has a
// size limit. Network errors, timeouts, 5xx and 429 are retried up to
// `retries` times with jittered exponential backoff; a 429's Retry-After is
// honoured when it is no longer than `max_retry_after`, else the call fails at
// once so the caller can fall back. Nothing blocks the event loop.
//
// Results: a 2xx response; otherwise a Status whose message names the method
// and URL (never a header value, so tokens stay out of logs):
//   401/403 PERMISSION_DENIED, 404 NOT_FOUND, a body over the limit
//   RESOURCE_EXHAUSTED, a malformed URL INVALID_ARGUMENT, anything else
//   (network, TLS, timeout, 429, 5xx, a truncated response) UNAVAILABLE.
//
// Thread-safety: use from the io_context's thread. The callback runs there,
// exactly once, unless the io_context is stopped first.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace boost::asio {
class io_context;
}

namespace carbon {

struct HttpClientOptions {
  Duration connect_timeout = std::chrono::seconds(5);
  Duration request_timeout = std::chrono::seconds(15);
  size_t max_body_bytes = 4 << 20;
  int retries = 2;
  Duration backoff = std::chrono::seconds(1);
  Duration max_retry_after = std::chrono::minutes(2);
  std::string ca_file;  // empty: the system's default CA paths
  std::string user_agent = "carbond";
};

struct HttpResponse {
  int status = 0;
  std::string body;
  int attempts = 0;
};

class HttpClient {
 public:
  using Callback = std::function<void(StatusOr<HttpResponse>)>;
  using Headers = std::vector<std::pair<std::string, std::string>>;

  HttpClient(boost::asio::io_context& io, HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  void Get(const std::string& url, const Headers& headers, Callback done);

  const HttpClientOptions& options() const { return options_; }

  struct Impl;  // the TLS context and the jitter's generator (http_client.cc)

 private:
  boost::asio::io_context& io_;
  HttpClientOptions options_;
  std::shared_ptr<Impl> impl_;
};

// Parsed http(s) URL. Fails with INVALID_ARGUMENT naming what is wrong.
struct Url {
  std::string scheme;  // http | https
  std::string host;
  std::string port;
  std::string target;  // path and query, at least "/"
};
StatusOr<Url> ParseUrl(const std::string& url);


}  // namespace carbon

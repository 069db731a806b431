// FakeUpstream: an in-process HTTP and HTTPS server on loopback that replays
// recorded API bodies and misbehaves on demand (namespace carbon::fakes).
// It runs its own io_context on a background thread. The HTTPS side uses a
// self-signed certificate for "localhost" and 127.0.0.1 made at construction (ca_file()).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace carbon::fakes {

struct UpstreamRequest {
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
};

struct UpstreamReply {
  enum class Kind { kNormal, kTruncate, kHang, kClose };
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds delay{0};  // before answering
  Kind kind = Kind::kNormal;           // kTruncate: Content-Length says more than is sent
};

class FakeUpstream {
 public:
  using Handler = std::function<UpstreamReply(const UpstreamRequest&)>;

  // `dir` receives cert.pem and key.pem.
  explicit FakeUpstream(const std::string& dir);
  ~FakeUpstream();

  void set_handler(Handler h);
  std::string http_url() const;   // "http://127.0.0.1:<port>"
  std::string https_url() const;  // "https://127.0.0.1:<port>" (certificate SAN IP)
  const std::string& ca_file() const { return cert_path_; }
  std::vector<UpstreamRequest> requests() const;
  size_t request_count() const;
  void clear_requests();

  struct Impl;

 private:
  std::string cert_path_, key_path_;
  std::unique_ptr<Impl> impl_;
};

// Writes a self-signed certificate (CN and SAN "localhost", 127.0.0.1) and
// its EC key as PEM files.
void MakeSelfSignedCert(const std::string& cert_path, const std::string& key_path);

}  // namespace carbon::fakes

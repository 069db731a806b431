// The network intensity sources: `uk` (UK Carbon Intensity API, NESO) and
// `electricitymaps` (Electricity Maps API v3). Both use HttpClient and answer
// on the event loop; both take a base URL so tests and proxies can stand in.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "daemon/intensity/http_client.h"
#include "daemon/core/intensity_source.h"

namespace carbon {

// api.carbonintensity.org.uk. Serves zone "GB": national, or one region by
// region id or postcode. Current values use `actual` where the API has it.
class UkSource final : public IntensitySource {
 public:
  UkSource(HttpClient& http, UkSourceConfig config) : http_(http), config_(std::move(config)) {}
  std::string name() const override { return "uk"; }
  void Current(const std::string& zone, Timestamp now, Callback done) override;
  void Forecast(const std::string& zone, Timestamp now, Duration horizon, Callback done) override;
  void History(const std::string& zone, Timestamp from, Timestamp to, Callback done) override;

 private:
  void Fetch(const std::string& zone, const std::string& path, bool use_actual, Callback done);
  std::string RegionSuffix() const;  // "/regionid/3", "/postcode/OX1" or ""
  HttpClient& http_;
  UkSourceConfig config_;
};

// Electricity Maps API v3 with the `auth-token` header. The token is read
// once, from the first of: token_file, $<token_env>,
// $CREDENTIALS_DIRECTORY/<credential> (systemd LoadCredential=). It is never
// logged nor returned by the API.
class ElectricityMapsSource final : public IntensitySource {
 public:
  ElectricityMapsSource(HttpClient& http, ElectricityMapsConfig config);
  std::string name() const override { return "electricitymaps"; }
  void Current(const std::string& zone, Timestamp now, Callback done) override;
  void Forecast(const std::string& zone, Timestamp now, Duration horizon, Callback done) override;
  void History(const std::string& zone, Timestamp from, Timestamp to, Callback done) override;

  // Where the token came from ("file /etc/...", "environment ...", "credential ...")
  // or empty when there is none. Never the token itself.
  const std::string& token_origin() const { return token_origin_; }

 private:
  void Fetch(const std::string& zone, const std::string& endpoint, Callback done);
  HttpClient& http_;
  ElectricityMapsConfig config_;
  std::string token_;
  std::string token_origin_;
  std::string token_error_;
};

}  // namespace carbon

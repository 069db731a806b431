#include "daemon/intensity/web_sources.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/intensity_formats.h"
#include "common/percent_encode.h"
#include "common/time_util.h"

namespace carbon {
namespace {

// The UK API's time form in paths: 2023-03-15T03:31Z.
std::string UkTime(Timestamp t) { return FormatTime(t).substr(0, 16) + "Z"; }

std::string Strip(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::string BaseUrl(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

std::string UkSource::RegionSuffix() const {
  if (config_.region_id) return "/regionid/" + std::to_string(*config_.region_id);
  if (!config_.postcode.empty()) return "/postcode/" + PercentEncode(config_.postcode);
  return "";
}

void UkSource::Fetch(const std::string& zone, const std::string& path, bool use_actual, Callback done) {
  if (zone != "GB") {
    done(Unavailable("uk serves zone GB only, not '" + zone + "'"));
    return;
  }
  std::string url = BaseUrl(config_.base_url) + path;
  http_.Get(url, {}, [url, use_actual, done = std::move(done)](StatusOr<HttpResponse> r) {
    if (!r.ok()) return done(r.status());
    done(ParseUkIntensity(r->body, url, use_actual));
  });
}

void UkSource::Current(const std::string& zone, Timestamp, Callback done) {
  std::string path = config_.region_id || !config_.postcode.empty() ? "/regional" + RegionSuffix() : "/intensity";
  Fetch(zone, path, /*use_actual=*/true, std::move(done));
}

void UkSource::Forecast(const std::string& zone, Timestamp now, Duration, Callback done) {
  // The API's forecasts reach 48 h ahead (fw48h); a longer horizon gets 48 h.
  std::string suffix = RegionSuffix();
  std::string path = suffix.empty() ? "/intensity/" + UkTime(now) + "/fw48h"
                                    : "/regional/intensity/" + UkTime(now) + "/fw48h" + suffix;
  Fetch(zone, path, /*use_actual=*/false, std::move(done));
}

void UkSource::History(const std::string& zone, Timestamp from, Timestamp to, Callback done) {
  std::string suffix = RegionSuffix();
  std::string path = suffix.empty() ? "/intensity/" + UkTime(from) + "/" + UkTime(to)
                                    : "/regional/intensity/" + UkTime(from) + "/" + UkTime(to) + suffix;
  Fetch(zone, path, /*use_actual=*/true, std::move(done));
}

ElectricityMapsSource::ElectricityMapsSource(HttpClient& http, ElectricityMapsConfig config)
    : http_(http), config_(std::move(config)) {
  auto read_file = [](const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream ss;
    ss << in.rdbuf();
    out = Strip(ss.str());
    return true;
  };
  if (!config_.token_file.empty()) {
    if (read_file(config_.token_file, token_))
      token_origin_ = "file " + config_.token_file;
    else
      token_error_ = "cannot read intensity.electricitymaps.token_file '" + config_.token_file + "'";
  }
  if (token_.empty() && !config_.token_env.empty()) {
    if (const char* v = std::getenv(config_.token_env.c_str()); v && *v) {
      token_ = Strip(v);
      token_origin_ = "environment variable " + config_.token_env;
    }
  }
  if (token_.empty() && !config_.credential.empty()) {
    if (const char* dir = std::getenv("CREDENTIALS_DIRECTORY"); dir && *dir) {
      if (read_file(std::string(dir) + "/" + config_.credential, token_))
        token_origin_ = "systemd credential " + config_.credential;
    }
  }
  if (token_.empty() && token_error_.empty())
    token_error_ = "no Electricity Maps token: set intensity.electricitymaps.token_file, the environment "
                   "variable " + config_.token_env + ", or the systemd credential '" + config_.credential +
                   "' (LoadCredential=" + config_.credential + ":/path/to/token)";
}

void ElectricityMapsSource::Fetch(const std::string& zone, const std::string& endpoint, Callback done) {
  if (token_.empty()) {
    done(FailedPrecondition(token_error_));
    return;
  }
  const std::string z = config_.zone.empty() ? zone : config_.zone;
  std::string url = BaseUrl(config_.base_url) + "/carbon-intensity/" + endpoint + "?zone=" + PercentEncode(z);
  // A parse error may quote the body, which could echo the request's
  // headers: the token is cut out (HttpClient does so for the HTTP errors).
  auto redact = [token = token_](Status st) {
    std::string m = st.message();
    for (size_t at; (at = m.find(token)) != std::string::npos;) m.replace(at, token.size(), "[auth-token]");
    return Status(st.code(), m, st.field());
  };
  http_.Get(url, {{"auth-token", token_}}, [url, redact, done = std::move(done)](StatusOr<HttpResponse> r) {
    if (!r.ok()) return done(r.status());
    auto parsed = ParseElectricityMaps(r->body, url);
    if (!parsed.ok()) return done(redact(parsed.status()));
    done(std::move(parsed));
  });
}

void ElectricityMapsSource::Current(const std::string& zone, Timestamp, Callback done) {
  Fetch(zone, "latest", std::move(done));
}

void ElectricityMapsSource::Forecast(const std::string& zone, Timestamp, Duration, Callback done) {
  Fetch(zone, "forecast", std::move(done));
}

void ElectricityMapsSource::History(const std::string& zone, Timestamp from, Timestamp to, Callback done) {
  // /history holds the last 24 h; keep what falls in [from, to).
  Fetch(zone, "history", [from, to, done = std::move(done)](StatusOr<IntensitySeries> s) {
    if (!s.ok()) return done(s.status());
    IntensitySeries out;
    for (const auto& p : *s)
      if (p.time >= from && p.time < to) out.push_back(p);
    done(std::move(out));
  });
}

}  // namespace carbon

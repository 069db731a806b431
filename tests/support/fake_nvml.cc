// A test double of NVIDIA's libnvidia-ml.so.1, loaded by the real code as
// the driver's library would be (dlopen by name, found through
// LD_LIBRARY_PATH, or by path). Tests only: it implements the NVML calls the
// project makes, driven by the scenario file named by FAKE_NVML_SCENARIO,
// read at the first nvmlInit (init and shutdown are counted, as NVML's
// are). Without one: one GPU named "Fake NVML GPU" drawing a
// constant 100 W, with an energy counter.
//
// Scenario file, one line per device (blank lines and # comments skipped):
//   device NAME... watts W [curve S:W,S:W,...] [uuid GPU-...] [counter no] [lost_after S]
//          [energy_error CODE] [power_error CODE]
// and optionally a line `init_error CODE`. NAME runs up to the first
// keyword. The energy counter is W x the seconds since nvmlInit (in mJ, as
// NVML counts); `counter no` makes nvmlDeviceGetTotalEnergyConsumption fail
// with NVML_ERROR_NOT_SUPPORTED (3); `lost_after S` makes every call on the
// device fail with NVML_ERROR_GPU_IS_LOST (15) from S seconds after init;
// `energy_error 4` (NVML_ERROR_NO_PERMISSION) makes that call fail so.
//
// Power limits (watts): `limit W` is the default limit (default: `watts`,
// at least 100), `min_limit W` and `max_limit W` its constraints (default:
// limit/2 and limit); `set_error 4` makes nvmlDeviceSetPowerManagementLimit
// fail with NO_PERMISSION. A limit set is appended to the state file
// (FAKE_NVML_STATE, else the scenario's path + ".limits"; with neither the
// limits stay in the process), one line `UUID MILLIWATTS UNIX_MS`, so a
// limit one process sets (carbond-gpucap) is the one another (the worker)
// reads, from then on. The device draws min(its power, the limit in force),
// and the energy counter integrates that over time since nvmlInit. Its power
// is `watts`, or with `curve 0.5:300,1.5:80` a curve over time: `watts` until
// 0.5 s after nvmlInit, 300 W from then, 80 W from 1.5 s on.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr int kSuccess = 0, kUninitialized = 1, kInvalidArgument = 2, kNotSupported = 3, kGpuIsLost = 15;

struct Device {
  std::string name = "Fake NVML GPU";
  std::string uuid;  // default: GPU-fake-<index>
  double watts = 100;
  std::vector<std::pair<double, double>> curve;  // (seconds after nvmlInit, watts from then), sorted
  bool counter = true;
  double lost_after = -1;
  int energy_error = 0, power_error = 0;
  double limit = 0, min_limit = 0, max_limit = 0;  // 0: from watts (see above)
  int set_error = 0;
};

// One limit in force from `since` (system clock, ms since the epoch).
struct LimitChange {
  int64_t since_ms;
  double watts;
};

struct State {
  bool initialised = false;
  int inits = 0;  // NVML counts nvmlInit against nvmlShutdown
  int init_error = 0;
  std::vector<Device> devices;
  std::chrono::steady_clock::time_point start;
  int64_t start_ms = 0;      // nvmlInit on the system clock
  std::string state_path;    // where limits are shared; empty: in-process only
  std::vector<std::string> local_limits;  // lines when there is no state file
};

State& S() {
  static State s;
  return s;
}

double Since() { return std::chrono::duration<double>(std::chrono::steady_clock::now() - S().start).count(); }

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The limit changes of one device, oldest first.
std::vector<LimitChange> Changes(const Device& d) {
  std::vector<std::string> lines = S().local_limits;
  if (!S().state_path.empty()) {
    lines.clear();
    std::ifstream in(S().state_path);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  std::vector<LimitChange> out;
  for (const std::string& line : lines) {
    std::istringstream words(line);
    std::string uuid;
    double mw = 0;
    int64_t ms = 0;
    if (words >> uuid >> mw >> ms && uuid == d.uuid) out.push_back({ms, mw / 1000.0});
  }
  return out;
}

double LimitNow(const Device& d) {
  double limit = d.limit;
  const int64_t now = NowMs();
  for (const LimitChange& c : Changes(d))
    if (c.since_ms <= now) limit = c.watts;  // one written ahead is not in force yet
  return limit;
}

// The device's own power t seconds after nvmlInit (its curve, or watts).
double WattsAt(const Device& d, double t) {
  double w = d.watts;
  for (const auto& [at, watts] : d.curve)
    if (at <= t) w = watts;
  return w;
}

// Joules drawn since nvmlInit: min(its power, the limit in force) over time,
// piecewise constant between the curve's points and the limit's changes
// (seconds since nvmlInit; a change's time is on the system clock).
double Joules(const Device& d) {
  const double now = Since();
  std::vector<std::pair<double, double>> limits;  // (from, watts)
  limits.emplace_back(0.0, d.limit);
  for (const LimitChange& c : Changes(d))
    limits.emplace_back(std::max(0.0, static_cast<double>(c.since_ms - S().start_ms) / 1000.0), c.watts);
  std::vector<double> cuts = {0.0, now};
  for (const auto& [at, w] : d.curve) cuts.push_back(at);
  for (const auto& [at, w] : limits) cuts.push_back(at);
  std::sort(cuts.begin(), cuts.end());
  double joules = 0;
  for (size_t i = 0; i + 1 < cuts.size(); ++i) {
    const double a = cuts[i], b = std::min(cuts[i + 1], now);
    if (b <= a) continue;
    double limit = d.limit;
    for (const auto& [at, w] : limits)
      if (at <= a) limit = w;  // the latest change at or before the piece
    joules += std::min(WattsAt(d, a), limit) * (b - a);
  }
  return joules;
}

void Load() {
  State& s = S();
  s.devices.clear();
  s.init_error = 0;
  const char* path = std::getenv("FAKE_NVML_SCENARIO");
  const char* state = std::getenv("FAKE_NVML_STATE");
  s.state_path = state && *state ? state : (path && *path ? std::string(path) + ".limits" : "");
  auto finish = [&] {
    for (size_t i = 0; i < s.devices.size(); ++i) {
      Device& d = s.devices[i];
      if (d.uuid.empty()) d.uuid = "GPU-fake-" + std::to_string(i);
      if (d.limit <= 0) d.limit = std::max(100.0, d.watts);
      if (d.max_limit <= 0) d.max_limit = d.limit;
      if (d.min_limit <= 0) d.min_limit = d.limit / 2;
    }
  };
  if (!path || !*path) {
    s.devices.emplace_back();
    finish();
    return;
  }
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string w;
    if (!(words >> w) || w[0] == '#') continue;
    if (w == "init_error") {
      words >> s.init_error;
      continue;
    }
    if (w != "device") continue;
    Device d;
    d.name.clear();
    while (words >> w) {
      if (w == "watts") words >> d.watts;
      else if (w == "curve") {
        std::string spec;
        words >> spec;
        std::istringstream points(spec);
        for (std::string point; std::getline(points, point, ',');) {
          const size_t colon = point.find(':');
          if (colon != std::string::npos)
            d.curve.emplace_back(std::atof(point.substr(0, colon).c_str()), std::atof(point.substr(colon + 1).c_str()));
        }
        std::sort(d.curve.begin(), d.curve.end());
      }
      else if (w == "counter") words >> w, d.counter = w != "no";
      else if (w == "uuid") words >> d.uuid;
      else if (w == "lost_after") words >> d.lost_after;
      else if (w == "energy_error") words >> d.energy_error;
      else if (w == "power_error") words >> d.power_error;
      else if (w == "limit") words >> d.limit;
      else if (w == "min_limit") words >> d.min_limit;
      else if (w == "max_limit") words >> d.max_limit;
      else if (w == "set_error") words >> d.set_error;
      else d.name += (d.name.empty() ? "" : " ") + w;
    }
    s.devices.push_back(d);
  }
  finish();
}

// The device behind a handle, or the error a call on it gets.
int Lookup(void* handle, const Device** out) {
  if (!S().initialised) return kUninitialized;
  auto* d = static_cast<const Device*>(handle);
  if (!d) return kInvalidArgument;
  if (d->lost_after >= 0 && Since() >= d->lost_after) return kGpuIsLost;
  *out = d;
  return kSuccess;
}

// A device's text field into NVML's caller buffer, cut to fit as NVML cuts it.
int CopyText(void* handle, std::string Device::*field, char* out, unsigned int length) {
  const Device* d = nullptr;
  if (int e = Lookup(handle, &d)) return e;
  if (!out || length == 0) return kInvalidArgument;
  std::strncpy(out, (d->*field).c_str(), length - 1);
  out[length - 1] = '\0';
  return kSuccess;
}

}  // namespace

extern "C" {

int nvmlInit_v2() {
  if (S().inits > 0) return ++S().inits, kSuccess;
  Load();  // the scenario is read when the library is first initialised
  if (S().init_error) return S().init_error;
  S().inits = 1;
  S().initialised = true;
  S().start = std::chrono::steady_clock::now();
  S().start_ms = NowMs();
  return kSuccess;
}

int nvmlShutdown() {
  if (S().inits == 0) return kUninitialized;
  if (--S().inits == 0) S().initialised = false;
  return kSuccess;
}

int nvmlDeviceGetCount_v2(unsigned int* count) {
  if (!S().initialised) return kUninitialized;
  *count = static_cast<unsigned int>(S().devices.size());
  return kSuccess;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void** handle) {
  if (!S().initialised) return kUninitialized;
  if (index >= S().devices.size()) return kInvalidArgument;
  *handle = &S().devices[index];
  return kSuccess;
}

int nvmlDeviceGetName(void* handle, char* name, unsigned int length) {
  return CopyText(handle, &Device::name, name, length);
}

int nvmlDeviceGetUUID(void* handle, char* uuid, unsigned int length) {
  return CopyText(handle, &Device::uuid, uuid, length);
}

int nvmlDeviceGetTotalEnergyConsumption(void* handle, unsigned long long* mj) {
  const Device* d = nullptr;
  if (int e = Lookup(handle, &d)) return e;
  if (d->energy_error) return d->energy_error;
  if (!d->counter) return kNotSupported;
  *mj = static_cast<unsigned long long>(Joules(*d) * 1000.0);
  return kSuccess;
}

int nvmlDeviceGetPowerUsage(void* handle, unsigned int* milliwatts) {
  const Device* d = nullptr;
  if (int e = Lookup(handle, &d)) return e;
  if (d->power_error) return d->power_error;
  *milliwatts = static_cast<unsigned int>(std::min(WattsAt(*d, Since()), LimitNow(*d)) * 1000.0);
  return kSuccess;
}

int nvmlDeviceGetPowerManagementLimit(void* handle, unsigned int* milliwatts) {
  const Device* d = nullptr;
  if (int e = Lookup(handle, &d)) return e;
  if (!milliwatts) return kInvalidArgument;
  *milliwatts = static_cast<unsigned int>(LimitNow(*d) * 1000.0);
  return kSuccess;
}

int nvmlDeviceGetPowerManagementDefaultLimit(void* handle, unsigned int* milliwatts) {
  const Device* d = nullptr;
  if (int e = Lookup(handle, &d)) return e;
  if (!milliwatts) return kInvalidArgument;
  *milliwatts = static_cast<unsigned int>(d->limit * 1000.0);
  return kSuccess;
}

int nvmlDeviceGetPowerManagementLimitConstraints(void* handle, unsigned int* min_mw, unsigned int* max_mw) {
  const Device* d = nullptr;
  if (int e = Lookup(handle, &d)) return e;
  if (!min_mw || !max_mw) return kInvalidArgument;
  *min_mw = static_cast<unsigned int>(d->min_limit * 1000.0);
  *max_mw = static_cast<unsigned int>(d->max_limit * 1000.0);
  return kSuccess;
}

// As the driver: NO_PERMISSION where the scenario says so, INVALID_ARGUMENT
// outside the constraints.
int nvmlDeviceSetPowerManagementLimit(void* handle, unsigned int milliwatts) {
  const Device* d = nullptr;
  if (int e = Lookup(handle, &d)) return e;
  if (d->set_error) return d->set_error;
  if (milliwatts < d->min_limit * 1000.0 || milliwatts > d->max_limit * 1000.0) return kInvalidArgument;
  const std::string line = d->uuid + " " + std::to_string(milliwatts) + " " + std::to_string(NowMs());
  if (S().state_path.empty()) {
    S().local_limits.push_back(line);
  } else {
    std::ofstream out(S().state_path, std::ios::app);
    out << line << "\n";
    if (!out.flush()) return 999;  // NVML_ERROR_UNKNOWN
  }
  return kSuccess;
}

const char* nvmlErrorString(int result) {
  switch (result) {
    case kSuccess: return "Success";
    case kUninitialized: return "Uninitialized";
    case kInvalidArgument: return "Invalid Argument";
    case kNotSupported: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case kGpuIsLost: return "GPU is lost";
    default: return "Unknown Error";
  }
}

}  // extern "C"

// A test double of NVIDIA's libnvidia-ml.so.1, loaded by the real code as
// the driver's library would be (dlopen by name, found through
// LD_LIBRARY_PATH, or by path). Tests only: it implements the NVML calls the
// project makes, driven by the scenario file named by FAKE_NVML_SCENARIO,
// read at the first nvmlInit (init and shutdown are counted, as NVML's
// are). Without one: one GPU named "Fake NVML GPU" drawing a
// constant 100 W, with an energy counter.
//
// Scenario file, one line per device (blank lines and # comments skipped):
//   device NAME... watts W [uuid GPU-...] [counter no] [lost_after S] [energy_error CODE] [power_error CODE]
// and optionally a line `init_error CODE`. NAME runs up to the first
// keyword. The energy counter is W x the seconds since nvmlInit (in mJ, as
// NVML counts); `counter no` makes nvmlDeviceGetTotalEnergyConsumption fail
// with NVML_ERROR_NOT_SUPPORTED (3); `lost_after S` makes every call on the
// device fail with NVML_ERROR_GPU_IS_LOST (15) from S seconds after init;
// `energy_error 4` (NVML_ERROR_NO_PERMISSION) makes that call fail so.
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
  bool counter = true;
  double lost_after = -1;
  int energy_error = 0, power_error = 0;
};

struct State {
  bool initialised = false;
  int inits = 0;  // NVML counts nvmlInit against nvmlShutdown
  int init_error = 0;
  std::vector<Device> devices;
  std::chrono::steady_clock::time_point start;
};

State& S() {
  static State s;
  return s;
}

double Since() { return std::chrono::duration<double>(std::chrono::steady_clock::now() - S().start).count(); }

void Load() {
  State& s = S();
  s.devices.clear();
  s.init_error = 0;
  const char* path = std::getenv("FAKE_NVML_SCENARIO");
  if (!path || !*path) {
    s.devices.emplace_back();
    s.devices.back().uuid = "GPU-fake-0";
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
      else if (w == "counter") words >> w, d.counter = w != "no";
      else if (w == "uuid") words >> d.uuid;
      else if (w == "lost_after") words >> d.lost_after;
      else if (w == "energy_error") words >> d.energy_error;
      else if (w == "power_error") words >> d.power_error;
      else d.name += (d.name.empty() ? "" : " ") + w;
    }
    s.devices.push_back(d);
  }
  for (size_t i = 0; i < s.devices.size(); ++i)
    if (s.devices[i].uuid.empty()) s.devices[i].uuid = "GPU-fake-" + std::to_string(i);
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
  *mj = static_cast<unsigned long long>(d->watts * Since() * 1000.0);
  return kSuccess;
}

int nvmlDeviceGetPowerUsage(void* handle, unsigned int* milliwatts) {
  const Device* d = nullptr;
  if (int e = Lookup(handle, &d)) return e;
  if (d->power_error) return d->power_error;
  *milliwatts = static_cast<unsigned int>(d->watts * 1000.0);
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

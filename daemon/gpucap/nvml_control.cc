#include "daemon/gpucap/nvml_control.h"

#include <dlfcn.h>

#include <cmath>

#include "common/gpu_names.h"

namespace carbon::gpucap {

StatusOr<std::unique_ptr<NvmlControl>> NvmlControl::Open(const std::string& library) {
  void* lib = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) return Unavailable("no NVML: " + library + " not found (no NVIDIA driver)");
  std::unique_ptr<NvmlControl> c(new NvmlControl());
  c->lib_ = lib;
  auto sym = [&](const char* name) { return ::dlsym(lib, name); };
  auto init = reinterpret_cast<int (*)()>(sym("nvmlInit_v2"));
  auto count = reinterpret_cast<int (*)(unsigned int*)>(sym("nvmlDeviceGetCount_v2"));
  auto handle = reinterpret_cast<int (*)(unsigned int, void**)>(sym("nvmlDeviceGetHandleByIndex_v2"));
  auto uuid = reinterpret_cast<int (*)(void*, char*, unsigned int)>(sym("nvmlDeviceGetUUID"));
  c->limit_ = reinterpret_cast<int (*)(void*, unsigned int*)>(sym("nvmlDeviceGetPowerManagementLimit"));
  c->default_ = reinterpret_cast<int (*)(void*, unsigned int*)>(sym("nvmlDeviceGetPowerManagementDefaultLimit"));
  c->constraints_ = reinterpret_cast<int (*)(void*, unsigned int*, unsigned int*)>(
      sym("nvmlDeviceGetPowerManagementLimitConstraints"));
  c->set_ = reinterpret_cast<int (*)(void*, unsigned int)>(sym("nvmlDeviceSetPowerManagementLimit"));
  c->error_string_ = reinterpret_cast<const char* (*)(int)>(sym("nvmlErrorString"));
  if (!init || !count || !handle || !uuid || !c->limit_ || !c->default_ || !c->constraints_ || !c->set_)
    return Unavailable(library + " lacks NVML's power-limit calls");
  if (int e = init(); e != 0) return Unavailable("nvmlInit failed: " + c->Error("nvmlInit", 0, e));
  c->shutdown_ = reinterpret_cast<int (*)()>(sym("nvmlShutdown"));
  unsigned int n = 0;
  if (count(&n) != 0 || n == 0) return Unavailable("NVML reports no GPU");
  for (unsigned int i = 0; i < n; ++i) {
    void* h = nullptr;
    char id[96] = {};
    if (handle(i, &h) != 0 || uuid(h, id, sizeof id) != 0) return Unavailable("NVML gave no handle for GPU " + std::to_string(i));
    c->handles_.push_back(h);
    c->uuids_.push_back(id);
  }
  return c;
}

NvmlControl::~NvmlControl() {
  if (shutdown_ && !handles_.empty()) shutdown_();
  if (lib_) ::dlclose(lib_);
}

std::string NvmlControl::Error(const char* call, size_t index, int code) const {
  const char* text = error_string_ ? error_string_(code) : nullptr;
  return std::string(call) + " on " + (index < uuids_.size() ? uuids_[index] : "GPU " + std::to_string(index)) +
         ": NVML error " + std::to_string(code) + (text ? std::string(" (") + text + ")" : "");
}

StatusOr<std::vector<size_t>> NvmlControl::Resolve(const std::vector<std::string>& names) const {
  std::vector<size_t> out;
  if (names.empty()) {
    for (size_t i = 0; i < uuids_.size(); ++i) out.push_back(i);
    return out;
  }
  for (const std::string& n : names) {
    auto found = VisibleGpus(n, uuids_);  // one entry: an index, a UUID or its prefix
    if (found.size() != 1) return NotFound("'" + n + "' names none of the " + std::to_string(uuids_.size()) + " GPU(s) NVML reports");
    out.push_back(found.front());
  }
  return out;
}

StatusOr<GpuLimits> NvmlControl::Limits(size_t index) const {
  if (index >= handles_.size()) return NotFound("no GPU " + std::to_string(index));
  unsigned int now = 0, def = 0, lo = 0, hi = 0;
  void* h = handles_[index];
  if (int e = limit_(h, &now)) return Unavailable(Error("nvmlDeviceGetPowerManagementLimit", index, e));
  if (int e = default_(h, &def)) return Unavailable(Error("nvmlDeviceGetPowerManagementDefaultLimit", index, e));
  if (int e = constraints_(h, &lo, &hi))
    return Unavailable(Error("nvmlDeviceGetPowerManagementLimitConstraints", index, e));
  return GpuLimits{index, uuids_[index], now / 1000.0, def / 1000.0, lo / 1000.0, hi / 1000.0};
}

Status NvmlControl::SetLimit(size_t index, double watts) {
  if (index >= handles_.size()) return NotFound("no GPU " + std::to_string(index));
  const auto mw = static_cast<unsigned int>(std::lround(watts * 1000.0));
  if (int e = set_(handles_[index], mw)) {
    std::string why = Error("nvmlDeviceSetPowerManagementLimit", index, e);
    return e == 4 ? PermissionDenied(why + "; setting a power limit needs root (CAP_SYS_ADMIN)") : Unavailable(why);
  }
  return Status();
}

}  // namespace carbon::gpucap

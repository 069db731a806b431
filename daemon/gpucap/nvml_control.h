// NvmlControl: the GPU power-limit calls of NVML (libnvidia-ml.so.1, loaded
// with dlopen at run time, as the worker's meter loads it): each GPU's
// limit in force, default limit and constraints, and setting a limit.
// Setting needs root (CAP_SYS_ADMIN): only carbond-gpucap calls SetLimit.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace carbon::gpucap {

struct GpuLimits {
  size_t index = 0;
  std::string uuid;
  double limit_w = 0, default_w = 0, min_w = 0, max_w = 0;
};

class NvmlControl {
 public:
  // UNAVAILABLE (with the reason) when the library or its calls are missing.
  static StatusOr<std::unique_ptr<NvmlControl>> Open(const std::string& library = "libnvidia-ml.so.1");
  ~NvmlControl();
  NvmlControl(const NvmlControl&) = delete;
  NvmlControl& operator=(const NvmlControl&) = delete;

  const std::vector<std::string>& uuids() const { return uuids_; }
  // The GPUs `names` designates (NVML indices, UUIDs or UUID prefixes, as
  // CUDA_VISIBLE_DEVICES names them); an empty list: every GPU. NOT_FOUND
  // names the entry that matches no GPU.
  StatusOr<std::vector<size_t>> Resolve(const std::vector<std::string>& names) const;
  StatusOr<GpuLimits> Limits(size_t index) const;
  // NVML's own refusal (NO_PERMISSION, INVALID_ARGUMENT) comes back with its text.
  Status SetLimit(size_t index, double watts);

 private:
  NvmlControl() = default;
  std::string Error(const char* call, size_t index, int code) const;
  void* lib_ = nullptr;
  std::vector<void*> handles_;
  std::vector<std::string> uuids_;
  int (*limit_)(void*, unsigned int*) = nullptr;
  int (*default_)(void*, unsigned int*) = nullptr;
  int (*constraints_)(void*, unsigned int*, unsigned int*) = nullptr;
  int (*set_)(void*, unsigned int) = nullptr;
  const char* (*error_string_)(int) = nullptr;
  int (*shutdown_)() = nullptr;
};

}  // namespace carbon::gpucap

#include "worker/system_info.h"

#include <fstream>
#include <filesystem>
#include <cstring>
#include <sstream>

#ifdef CARBON_TORCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace carbon::worker {

std::string LoadedBlasLibrary() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    std::string name = std::filesystem::path(path).filename().string();
    if (name.rfind("libblas.so", 0) == 0 || name.rfind("libopenblas", 0) == 0 ||
        name.rfind("libmkl_rt", 0) == 0 || name.rfind("libblis", 0) == 0) {
      std::error_code ec;
      auto real = std::filesystem::canonical(path, ec);
      return ec ? path : real.string();
    }
  }
  return {};
}

std::string BlasKind(const std::string& path) {
  if (path.find("openblas") != std::string::npos) return "openblas";
  if (path.find("mkl") != std::string::npos) return "mkl";
  if (path.find("blis") != std::string::npos) return "blis";
  if (path.find("/blas/") != std::string::npos) return "reference";
  return path.empty() ? "none" : "unknown";
}

namespace {
int64_t StatusKb(const char* key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(status, line)) {
    if (line.compare(0, n, key) == 0) {
      std::istringstream is(line.substr(n));
      int64_t kb = 0;
      is >> kb;
      return kb;
    }
  }
  return 0;
}
}  // namespace

int64_t ResetPeakMemory(const torch::Device& device) {
#ifdef CARBON_TORCH_CUDA
  if (device.is_cuda()) {
    int idx = device.index() < 0 ? 0 : device.index();
    c10::cuda::CUDACachingAllocator::resetPeakStats(idx);
    return c10::cuda::CUDACachingAllocator::getDeviceStats(idx).allocated_bytes[0].current;
  }
#endif
  (void)device;
  std::ofstream("/proc/self/clear_refs") << "5";
  return StatusKb("VmRSS:") * 1024;
}

PeakMemory ReadPeakMemory(const torch::Device& device) {
  PeakMemory m;
#ifdef CARBON_TORCH_CUDA
  if (device.is_cuda()) {
    auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index() < 0 ? 0 : device.index());
    m.bytes = stats.allocated_bytes[0].peak;  // 0: the aggregate over pool types
    m.method = "cuda-allocator-peak";
    return m;
  }
#endif
  (void)device;
  m.bytes = StatusKb("VmHWM:") * 1024;
  m.method = "peak-rss (VmHWM of the worker process, reset each epoch)";
  return m;
}

}  // namespace carbon::worker

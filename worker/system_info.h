// What the worker reports about the machine it trains on: which BLAS library
// LibTorch loaded, and the peak memory of an epoch.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace carbon::worker {

// The resolved path of the BLAS library mapped into this process (from
// /proc/self/maps), e.g. /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3;
// empty when none is mapped.
std::string LoadedBlasLibrary();
// "openblas", "reference", "mkl", "blis" or "unknown", from that path.
std::string BlasKind(const std::string& path);

struct PeakMemory {
  int64_t bytes = 0;           // the peak since the last reset
  int64_t baseline_bytes = 0;  // in use at the reset (model, data, optimizer state)
  std::string method;          // how it was measured, for honest reports
};

// Starts a measurement window: resets the CUDA allocator's peak, or the
// process's peak RSS (writing 5 to /proc/self/clear_refs).
// Returns the memory in use at that moment (the baseline).
int64_t ResetPeakMemory(const torch::Device& device);
// The peak since the last reset: CUDA: the caching allocator's peak of
// allocated bytes; CPU: VmHWM of the process.
PeakMemory ReadPeakMemory(const torch::Device& device);

}  // namespace carbon::worker

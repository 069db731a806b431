// GPU names as CUDA and NVML take them: shared by the worker's meter,
// carbond and carbond-gpucap (no NVML, no Torch here).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace carbon {

// The NVML indices CUDA_VISIBLE_DEVICES names, in its order: each entry an
// index or a UUID (or its prefix, "GPU-" optional), as CUDA reads it, up to
// the first entry that names no GPU; unset (nullopt): every GPU.
std::vector<size_t> VisibleGpus(const std::optional<std::string>& visible, const std::vector<std::string>& uuids);

}  // namespace carbon

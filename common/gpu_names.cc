#include "common/gpu_names.h"

#include <algorithm>
#include <charconv>
#include <sstream>

namespace carbon {

std::vector<size_t> VisibleGpus(const std::optional<std::string>& visible, const std::vector<std::string>& uuids) {
  std::vector<size_t> out;
  if (!visible) {
    for (size_t k = 0; k < uuids.size(); ++k) out.push_back(k);
    return out;
  }
  std::istringstream in(*visible);
  for (std::string item; std::getline(in, item, ',');) {
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    while (!item.empty() && item.back() == ' ') item.pop_back();
    std::optional<size_t> found;
    if (!item.empty() && item.find_first_not_of("0123456789") == std::string::npos) {
      size_t index = 0;  // an index too large to parse names no GPU, as one too large to exist
      auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), index);
      if (ec == std::errc() && end == item.data() + item.size() && index < uuids.size()) found = index;
    } else if (!item.empty()) {
      const std::string want = item.rfind("GPU-", 0) == 0 ? item : "GPU-" + item;
      for (size_t k = 0; k < uuids.size() && !found; ++k)
        if (!uuids[k].empty() && uuids[k].rfind(want, 0) == 0) found = k;
    }
    if (!found) break;  // CUDA ignores the list from its first invalid entry on
    if (std::find(out.begin(), out.end(), *found) == out.end()) out.push_back(*found);
  }
  return out;
}

}  // namespace carbon

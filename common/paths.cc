#include "common/paths.h"

#include <filesystem>

namespace carbon {
namespace {

namespace fs = std::filesystem;

// Whether `p` equals `root` or lies below it, component by component (so
// /data2 is not inside /data).
bool Within(const fs::path& p, const fs::path& root) {
  auto r = root.begin(), q = p.begin();
  for (; r != root.end(); ++r, ++q) {
    if (r->empty()) continue;  // a trailing separator
    if (q == p.end() || *q != *r) return false;
  }
  return true;
}

std::string JoinRoots(const std::vector<std::string>& roots) {
  std::string out;
  for (const auto& r : roots) out += (out.empty() ? "" : ", ") + r;
  return out.empty() ? "none" : out;
}

}  // namespace

StatusOr<std::string> ResolveInsideRoots(const std::string& path, const std::vector<std::string>& roots) {
  if (path.empty() || path[0] != '/')
    return InvalidArgument("'" + path +
                           "' is relative; give an absolute path (the worker does not run in your working directory)");
  std::error_code ec;
  const fs::path resolved = fs::weakly_canonical(path, ec);
  if (ec) return InvalidArgument("cannot resolve '" + path + "': " + ec.message());
  for (const auto& root : roots) {
    fs::path r = fs::weakly_canonical(root, ec);
    if (!ec && Within(resolved, r)) return resolved.string();
  }
  std::string what = "'" + path + "'";
  if (resolved.string() != path) what += " resolves to '" + resolved.string() + "', which";
  return InvalidArgument(what + " is outside the directories carbond's workers may read (worker.data_roots: " +
                         JoinRoots(roots) + "); put the data under one of them, or ask the administrator to add "
                         "its directory to worker.data_roots in carbond.yaml");
}

}  // namespace carbon

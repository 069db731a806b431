#include "common/paths.h"

#include <pwd.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

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

Status WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
  if (fd < 0) return Unavailable("cannot write " + tmp + ": " + std::strerror(errno));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::close(fd) == 0 && ok;
  if (!ok) return Unavailable("cannot write " + tmp + ": " + std::strerror(errno));
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Unavailable("cannot rename " + tmp + " to " + path);
  return Status();
}

std::string TailOfFile(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return {};
  std::streamoff size = in.tellg();
  std::streamoff start = size > static_cast<std::streamoff>(max_bytes)
                             ? size - static_cast<std::streamoff>(max_bytes) : 0;
  in.seekg(start);
  std::string s(static_cast<size_t>(size - start), '\0');
  in.read(s.data(), static_cast<std::streamsize>(s.size()));
  if (start > 0) {
    size_t nl = s.find('\n');
    if (nl != std::string::npos) s = s.substr(nl + 1);
  }
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

StatusOr<PersonalPlaces> PersonalPlacesFor(uint32_t uid, const std::function<const char*(const char*)>& getenv) {
  auto env = [&getenv](const char* name) -> std::string {
    const char* v = getenv(name);
    return v && *v == '/' ? std::string(v) : std::string();  // XDG: relative values are ignored
  };
  std::string home = env("HOME");
  if (home.empty()) {
    struct passwd pw {};
    struct passwd* found = nullptr;
    std::vector<char> buf(16384);
    if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found && found->pw_dir)
      home = found->pw_dir;
  }
  const std::string state_home = !env("XDG_STATE_HOME").empty() ? env("XDG_STATE_HOME") : home + "/.local/state";
  const std::string config_home = !env("XDG_CONFIG_HOME").empty() ? env("XDG_CONFIG_HOME") : home + "/.config";
  if (home.empty() && (env("XDG_STATE_HOME").empty() || env("XDG_CONFIG_HOME").empty()))
    return FailedPrecondition("personal mode: uid " + std::to_string(uid) +
                              " has no home ($HOME unset and no passwd entry) to keep carbond's state in; set "
                              "XDG_STATE_HOME and XDG_CONFIG_HOME, or pass --config");
  PersonalPlaces p;
  p.state_dir = state_home + "/carbond";
  p.config = config_home + "/carbond/carbond.yaml";
  std::string runtime = env("XDG_RUNTIME_DIR");
  std::error_code ec;
  if (runtime.empty() && std::filesystem::is_directory("/run/user/" + std::to_string(uid), ec))
    runtime = "/run/user/" + std::to_string(uid);
  p.socket = (runtime.empty() ? p.state_dir : runtime) + "/carbond.sock";
  return p;
}

}  // namespace carbon

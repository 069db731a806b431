#include "worker/job_cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace carbon::worker {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Where cgroup2 is mounted, from mountinfo ("... - cgroup2 ..."), with the
// mount's own root (field 4); empty when it is not mounted.
std::pair<std::string, std::string> Cgroup2Mount() {
  std::istringstream in(Slurp("/proc/self/mountinfo"));
  for (std::string line; std::getline(in, line);) {
    const auto dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
    std::istringstream f(line.substr(0, dash));
    std::string id, parent, dev, root, point;
    if (f >> id >> parent >> dev >> root >> point) return {point, root};
  }
  return {};
}

}  // namespace

std::unique_ptr<JobCgroup> JobCgroup::Make(const std::string& name, std::string* why,
                                           const std::string& cgroup_root) {
  std::string mount = cgroup_root, mount_root = "/";
  if (mount.empty()) std::tie(mount, mount_root) = Cgroup2Mount();
  if (mount.empty()) {
    *why = "no cgroup2 mounted";
    return nullptr;
  }
  // Our own cgroup: the "0::<path>" line, relative to the mount's root.
  std::string own;
  std::istringstream in(Slurp("/proc/self/cgroup"));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("0::", 0) == 0) own = line.substr(3);
  if (own.empty()) {
    *why = "this process is in no cgroup v2 hierarchy";
    return nullptr;
  }
  if (mount_root != "/" && own.rfind(mount_root, 0) == 0) own = own.substr(mount_root.size());
  std::string dir = mount + (own == "/" ? "" : own) + "/" + name;
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    *why = "cannot make " + dir + ": " + std::strerror(errno) + " (carbond's cgroup is not delegated to it)";
    return nullptr;
  }
  const int fd = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    *why = "cannot open " + dir + "/cgroup.procs: " + std::strerror(errno);
    ::rmdir(dir.c_str());
    return nullptr;
  }
  std::unique_ptr<JobCgroup> cg(new JobCgroup());
  cg->path_ = dir;
  cg->procs_fd_ = fd;
  return cg;
}

JobCgroup::~JobCgroup() {
  KillAll();
  if (procs_fd_ >= 0) ::close(procs_fd_);
  for (int i = 0; i < 100 && ::rmdir(path_.c_str()) != 0 && errno == EBUSY; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the last ones still exiting
}

std::vector<pid_t> JobCgroup::Pids() const {
  std::vector<pid_t> pids;
  std::istringstream in(Slurp(path_ + "/cgroup.procs"));
  for (long long p; in >> p;) pids.push_back(static_cast<pid_t>(p));
  return pids;
}

void JobCgroup::KillAll() {
  {
    std::ofstream kill(path_ + "/cgroup.kill");  // Linux 5.14: the kernel kills them all
    if (kill) kill << "1" << std::flush;
  }
  for (int round = 0; round < 200; ++round) {
    const std::vector<pid_t> pids = Pids();
    if (pids.empty()) return;
    for (pid_t p : pids) ::kill(p, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace carbon::worker

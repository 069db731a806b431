// JobCgroup: a cgroup v2 of one command job's run, where the system lets
// carbon-worker make one: a child of the worker's own cgroup (a delegated
// subtree under systemd, Delegate=yes; or any cgroup root may write). The
// program moves itself into it before exec, so every process it starts is
// in it whatever it does (a double fork, setsid, a reparenting), and the
// supervisor can kill them all at once (cgroup.kill, else each pid in
// cgroup.procs). Without one the supervisor keeps the tree by its session
// and as subreaper (worker/supervisor.h). No Torch here.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace carbon::worker {

class JobCgroup {
 public:
  // <own cgroup>/<name>; null, with *why, where it cannot be made (cgroup v1
  // only, no write access). `cgroup_root` is where cgroup2 is mounted (found
  // in /proc/self/mountinfo when empty).
  static std::unique_ptr<JobCgroup> Make(const std::string& name, std::string* why,
                                         const std::string& cgroup_root = "");
  ~JobCgroup();  // kills what is left and removes the directory
  JobCgroup(const JobCgroup&) = delete;
  JobCgroup& operator=(const JobCgroup&) = delete;

  const std::string& path() const { return path_; }
  // An fd open for writing on its cgroup.procs (O_CLOEXEC): a forked child
  // writes "0" to it to move itself in (async-signal-safe).
  int procs_fd() const { return procs_fd_; }
  // The processes in it now.
  std::vector<pid_t> Pids() const;
  // SIGKILL to every process in it, until none is left (a few rounds at most).
  void KillAll();

 private:
  JobCgroup() = default;
  std::string path_;
  int procs_fd_ = -1;
};

}  // namespace carbon::worker

#include "daemon/exec/local/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

extern char** environ;

namespace carbon {

StatusOr<pid_t> Spawn(const SpawnOptions& o) {
  if (o.argv.empty()) return InvalidArgument("nothing to run");
  // Everything the child needs is built before fork: after it, only
  // async-signal-safe calls until exec.
  std::vector<std::string> args = o.argv, env = o.env;
  std::vector<int> extra = o.extra_fds;
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  int errpipe[2];
  if (::pipe2(errpipe, O_CLOEXEC) != 0) return Unavailable(std::string("pipe2: ") + std::strerror(errno));
  const pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(errpipe[0]);
    ::close(errpipe[1]);
    return Unavailable(std::string("fork: ") + std::strerror(e));
  }
  if (pid == 0) {
    if (o.own_process_group) ::setpgid(0, 0);
    if (o.die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(127);
    }
    sigset_t all;
    sigemptyset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    for (int s : {SIGPIPE, SIGCHLD, SIGTERM, SIGINT, SIGHUP}) ::signal(s, SIG_DFL);
    const int devnull = ::open("/dev/null", O_RDWR);
    // dup2 clears FD_CLOEXEC on the new descriptor.
    ::dup2(o.stdin_fd >= 0 ? o.stdin_fd : devnull, 0);
    ::dup2(o.stdout_fd >= 0 ? o.stdout_fd : devnull, 1);
    ::dup2(o.stderr_fd >= 0 ? o.stderr_fd : devnull, 2);
    // A source that sits where an earlier one goes (3, 4, ...) is moved out
    // of the way first (fcntl is async-signal-safe).
    const int count = static_cast<int>(extra.size());
    for (int& fd : extra)
      if (fd < 3 + count) fd = ::fcntl(fd, F_DUPFD, 3 + count);
    int errfd = errpipe[1];
    if (errfd < 3 + count) errfd = ::fcntl(errfd, F_DUPFD_CLOEXEC, 3 + count);
    for (int k = 0; k < count; ++k) ::dup2(extra[static_cast<size_t>(k)], 3 + k);
    // Nothing else of the daemon's leaks into the child: not every library
    // opens its descriptors with CLOEXEC. errpipe[1] stays open (CLOEXEC) to
    // report a failed exec.
    const unsigned first = static_cast<unsigned>(3 + count);
    const unsigned keep = static_cast<unsigned>(errfd);
    bool closed = keep >= first ? (keep == first || ::close_range(first, keep - 1, 0) == 0) &&
                                      ::close_range(keep + 1, ~0U, 0) == 0
                                : ::close_range(first, ~0U, 0) == 0;
    if (!closed) {
      for (int fd = static_cast<int>(first); fd < 65536; ++fd)
        if (fd != errfd) ::close(fd);
    }
    ::execve(argv[0], argv.data(), envp.data());
    int e = errno;
    ssize_t w = ::write(errfd, &e, sizeof e);
    if (w < 0) ::_exit(126);
    ::_exit(127);
  }
  ::close(errpipe[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(errpipe[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(errpipe[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    ::waitpid(pid, nullptr, 0);
    return Unavailable("cannot execute '" + o.argv[0] + "': " + std::strerror(child_errno));
  }
  return pid;
}

std::vector<std::string> EnvironmentWithout(const std::vector<std::string>& drop) {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    std::string name = kv.substr(0, kv.find('='));
    if (std::find(drop.begin(), drop.end(), name) == drop.end()) out.push_back(std::move(kv));
  }
  return out;
}

}  // namespace carbon

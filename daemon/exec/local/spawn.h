// Spawn: fork+exec of one program, the way carbond starts every process
// (workers, Slurm's commands): never through a shell, never fork alone (the
// daemon has threads: only async-signal-safe calls between fork and exec),
// with an exact environment, and nothing of carbond's open descriptors
// (client connections, the listener) leaking into the child.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace carbon {

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0]: the program's path, as given to execve (no PATH lookup)
  std::vector<std::string> env;   // "NAME=value": exactly the child's environment
  int stdin_fd = -1;              // -1: /dev/null
  int stdout_fd = -1;             // -1: /dev/null
  int stderr_fd = -1;             // -1: /dev/null
  // Given to the child as descriptors 3, 4, ... in this order (the worker's
  // events socket, its start gate); every other descriptor is closed.
  std::vector<int> extra_fds;
  // Its own process group (so a stop reaches its children too) and SIGTERM
  // when carbond dies (PR_SET_PDEATHSIG), so it does not outlive carbond.
  bool own_process_group = true;
  bool die_with_parent = true;
};

// The child's pid once it has exec'd; UNAVAILABLE with the reason when fork
// or exec failed ("cannot execute '/x': No such file or directory"). The
// caller reaps it (waitpid).
StatusOr<pid_t> Spawn(const SpawnOptions& options);

// carbond's environment as "NAME=value" entries, less the names in `drop`.
std::vector<std::string> EnvironmentWithout(const std::vector<std::string>& drop);

}  // namespace carbon

// Paths a job may name. carbond's workers run as carbond's user, not as the
// person who submitted the job, so what a job may read is limited to the
// directories the administrator lists (worker.data_roots).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"

namespace carbon {

// Resolves `path` (absolute; symlinks followed as far as the path exists,
// "." and ".." removed) and checks that it lies inside one of `roots`
// (resolved the same way). Returns the resolved path. INVALID_ARGUMENT for a
// relative path, or one that resolves outside every root; the message names
// the path, what it resolved to and the roots, and says what to do. Empty
// `roots`: nothing is allowed.
StatusOr<std::string> ResolveInsideRoots(const std::string& path, const std::vector<std::string>& roots);

// Writes `text` to `path` through a temporary file (path + ".tmp") renamed
// over it, so a reader sees the old file or the new one; neither is followed
// if it is a symbolic link (rename replaces a link at `path` itself).
Status WriteFileAtomically(const std::string& path, const std::string& text);

// Personal mode: where an unprivileged user's own carbond keeps its things
// when started without --config (README, "Your own training script"), from
// the XDG base directories: the socket in $XDG_RUNTIME_DIR (else
// /run/user/<uid> where it exists, else the state directory), the state in
// $XDG_STATE_HOME/carbond (default ~/.local/state/carbond), the config
// $XDG_CONFIG_HOME/carbond/carbond.yaml (default ~/.config/...), used when it
// exists. `getenv` is injected for tests. FAILED_PRECONDITION when there is
// no home to put them in (no $HOME and no passwd entry).
struct PersonalPlaces {
  std::string socket, state_dir, config;
};
StatusOr<PersonalPlaces> PersonalPlacesFor(uint32_t uid, const std::function<const char*(const char*)>& getenv);

// The last `max_bytes` of a file (a worker's log), starting at a whole line,
// without trailing newlines or spaces; "" when it cannot be read.
std::string TailOfFile(const std::string& path, size_t max_bytes);

}  // namespace carbon

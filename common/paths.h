// Paths a job may name. carbond's workers run as carbond's user, not as the
// person who submitted the job, so what a job may read is limited to the
// directories the administrator lists (worker.data_roots).
#pragma once

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

// The last `max_bytes` of a file (a worker's log), starting at a whole line,
// without trailing newlines or spaces; "" when it cannot be read.
std::string TailOfFile(const std::string& path, size_t max_bytes);

}  // namespace carbon

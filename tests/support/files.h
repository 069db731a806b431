// Reading files in tests: any path, or the source tree's (fixtures, shipped data).
// Needs CARBON_SOURCE_DIR, which tests/CMakeLists.txt defines per target.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace carbon::fakes {

// The whole file at `path`; a missing file fails the test.
inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) ADD_FAILURE() << "cannot open " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The file at `rel` under the source root; a missing file fails the test.
inline std::string ReadSourceFile(const std::string& rel) { return ReadAll(std::string(CARBON_SOURCE_DIR) + "/" + rel); }

}  // namespace carbon::fakes

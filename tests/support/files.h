// Reading files of the source tree in tests (fixtures, shipped data).
// Needs CARBON_SOURCE_DIR, which tests/CMakeLists.txt defines per target.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace carbon::fakes {

// The file at `rel` under the source root; a missing file fails the test.
inline std::string ReadSourceFile(const std::string& rel) {
  std::ifstream in(std::string(CARBON_SOURCE_DIR) + "/" + rel, std::ios::binary);
  if (!in) ADD_FAILURE() << "cannot open " << rel;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace carbon::fakes

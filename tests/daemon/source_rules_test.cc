// Rules of the source tree that a build can check (in the spirit of
// Chromium's checkdeps): they read the files under CARBON_SOURCE_DIR.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

namespace carbon {
namespace {

namespace fs = std::filesystem;

struct Hit {
  std::string where, line;
};

// Lines of the .cc/.h files under `dir` (relative to the source root) that match `re`.
std::vector<Hit> Grep(const std::string& dir, const std::regex& re) {
  std::vector<Hit> hits;
  const fs::path root = fs::path(CARBON_SOURCE_DIR) / dir;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const std::string ext = entry.path().extension().string();
    if (!entry.is_regular_file() || (ext != ".cc" && ext != ".h")) continue;
    std::ifstream in(entry.path());
    int n = 0;
    for (std::string line; std::getline(in, line);) {
      ++n;
      if (std::regex_search(line, re))
        hits.push_back({fs::relative(entry.path(), CARBON_SOURCE_DIR).string() + ":" + std::to_string(n), line});
    }
  }
  return hits;
}

std::string Show(const std::vector<Hit>& hits) {
  std::string out;
  for (const Hit& h : hits) out += "  " + h.where + ": " + h.line + "\n";
  return out;
}

// No Status (or any other result) is dropped silently in the daemon: a
// call's result cast to void, assigned to std::ignore or static_cast<void>
// is refused. Handle the error (log it, retry it, return it) instead.
TEST(SourceRules, NoResultIsDiscardedInTheDaemon) {
  const std::regex discard(R"(\(void\)\s*!?\s*[\w:.>-]*\(|std::ignore\s*=|static_cast<void>\()");
  auto hits = Grep("daemon", discard);
  EXPECT_TRUE(hits.empty()) << "results discarded in daemon/ (handle or log the error):\n" << Show(hits);
  // The rule finds what it is meant to find.
  EXPECT_TRUE(std::regex_search("      (void)store_.Apply(job.id, f);", discard));
  EXPECT_TRUE(std::regex_search("(void)!::pwrite(fd, p, n, 0);", discard));
  EXPECT_TRUE(std::regex_search("std::ignore = db.Exec(\"x\");", discard));
  EXPECT_FALSE(std::regex_search("    (void)zone, (void)from;", discard));
}

}  // namespace
}  // namespace carbon

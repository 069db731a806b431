// Rules of the source tree that a build can check (in the spirit of
// Chromium's checkdeps): they read the files under CARBON_SOURCE_DIR.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <iterator>
#include <regex>
#include <set>
#include <sstream>
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

// The sources of a library as daemon/CMakeLists.txt lists them in its
// add_library(<name> STATIC ...) (the generated dashboard.cc left out).
std::vector<std::string> LibrarySources(const std::string& name) {
  std::ifstream in(std::string(CARBON_SOURCE_DIR) + "/daemon/CMakeLists.txt");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::smatch m;
  std::vector<std::string> out;
  if (!std::regex_search(text, m, std::regex("add_library\\(" + name + " STATIC([^)]*)\\)"))) return out;
  std::stringstream ss(m[1].str());
  for (std::string w; ss >> w;)
    if (w.size() > 3 && w.compare(w.size() - 3, 3, ".cc") == 0 && w.find('$') == std::string::npos)
      out.push_back("daemon/" + w);
  return out;
}

// The project files `file` includes ("..." includes), and its <...> includes.
void Includes(const std::string& file, std::vector<std::string>* quoted, std::vector<std::string>* angled) {
  std::ifstream in(std::string(CARBON_SOURCE_DIR) + "/" + file);
  static const std::regex inc(R"(^\s*#\s*include\s*([<"])([^>"]+)[>"])");
  std::smatch m;
  for (std::string line; std::getline(in, line);) {
    if (!std::regex_search(line, m, inc)) continue;
    (m[1] == "<" ? angled : quoted)->push_back(m[2]);
  }
}

// The core (the scheduler and the interfaces it uses: every file
// carbond_core compiles and every project header those include, however
// deep) includes no adapter library and not the API's types. That keeps the
// scheduler testable with fakes and its rebuilds quick; a new dependency goes
// behind an interface in daemon/ (executor.h, job_store.h, ...).
TEST(SourceRules, TheCoreIncludesNoAdapter) {
  const std::vector<std::string> sources = LibrarySources("carbond_core");
  ASSERT_GE(sources.size(), 3u) << "carbond_core's sources not found in daemon/CMakeLists.txt";
  EXPECT_NE(std::find(sources.begin(), sources.end(), "daemon/scheduler.cc"), sources.end());
  const std::regex banned_angled(R"(^(boost/|sqlite3\.h|nlohmann/|torch/|ATen/|c10/|yaml-cpp/))");
  std::set<std::string> seen;
  std::vector<std::string> todo = sources;
  std::string violations;
  while (!todo.empty()) {
    std::string file = todo.back();
    todo.pop_back();
    if (!seen.insert(file).second) continue;
    ASSERT_TRUE(fs::exists(fs::path(CARBON_SOURCE_DIR) / file)) << file;
    std::vector<std::string> quoted, angled;
    Includes(file, &quoted, &angled);
    for (const std::string& a : angled)
      if (std::regex_search(a, banned_angled)) violations += "  " + file + " includes <" + a + ">\n";
    for (const std::string& q : quoted) {
      if (q.rfind("proto-less-api/", 0) == 0 || q.rfind("worker/", 0) == 0) {
        violations += "  " + file + " includes \"" + q + "\"\n";
        continue;
      }
      // Headers in the closure; the .cc files of common/ are their own library.
      todo.push_back(q);
    }
  }
  EXPECT_TRUE(violations.empty()) << "the core includes what it must not:\n" << violations;
  EXPECT_GE(seen.size(), 15u);  // the walk went through the headers
  EXPECT_TRUE(seen.count("daemon/executor.h") && seen.count("common/worker_protocol.h"));
  // The rule finds what it is meant to find.
  EXPECT_TRUE(std::regex_search(std::string("nlohmann/json.hpp"), banned_angled));
  EXPECT_TRUE(std::regex_search(std::string("boost/asio/io_context.hpp"), banned_angled));
  EXPECT_FALSE(std::regex_search(std::string("spdlog/spdlog.h"), banned_angled));
}

}  // namespace
}  // namespace carbon

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

// Every .cc/.h under `dir`, relative to the source root.
std::vector<std::string> FilesUnder(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(CARBON_SOURCE_DIR) / dir)) {
    const std::string ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".cc" || ext == ".h"))
      out.push_back(fs::relative(e.path(), CARBON_SOURCE_DIR).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool Under(const std::string& path, const std::string& folder) { return path.rfind(folder, 0) == 0; }

// daemon/ has a folder per library (daemon/CMakeLists.txt), and each folder
// includes only what its library may see:
//   core (the scheduler, the intensity service, the interfaces) only itself
//   and common/; the edges (HTTP, executors, stores, intensity sources) the
//   core, common/ and themselves (the HTTP edge also the API's types);
//   gpucap only itself and common/. Only daemon/'s own files (the wiring)
//   see everything. That keeps the scheduler testable with fakes and its
//   rebuilds quick: a new dependency goes behind an interface in daemon/core/.
TEST(SourceRules, EachFolderIncludesOnlyWhatItsLibraryMay) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> rules = {
      {"daemon/core/", {"common/", "daemon/core/"}},
      {"daemon/http/", {"common/", "daemon/core/", "daemon/http/", "proto-less-api/"}},
      {"daemon/exec/", {"common/", "daemon/core/", "daemon/exec/"}},
      {"daemon/store/", {"common/", "daemon/core/", "daemon/store/", "migrations/"}},
      {"daemon/intensity/", {"common/", "daemon/core/", "daemon/intensity/"}},
      {"daemon/gpucap/", {"common/", "daemon/gpucap/"}},
  };
  std::string violations;
  size_t checked = 0;
  for (const std::string& file : FilesUnder("daemon")) {
    const auto rule = std::find_if(rules.begin(), rules.end(), [&](const auto& r) { return Under(file, r.first); });
    if (rule == rules.end()) {  // the wiring: daemon/ itself, nothing deeper
      EXPECT_EQ(file.find('/', std::string("daemon/").size()), std::string::npos)
          << file << " is in a folder no rule names; add it to the rules";
      continue;
    }
    ++checked;
    std::vector<std::string> quoted, angled;
    Includes(file, &quoted, &angled);
    for (const std::string& q : quoted)
      if (std::none_of(rule->second.begin(), rule->second.end(), [&](const std::string& f) { return Under(q, f); }))
        violations += "  " + file + " includes \"" + q + "\"\n";
  }
  EXPECT_TRUE(violations.empty()) << "a folder includes what its library must not:\n" << violations;
  EXPECT_GE(checked, 60u);  // the walk found the folders
}

// The core, and every project header it includes however deep (through
// common/), includes no adapter library: no Asio, SQLite, nlohmann, Torch
// or yaml-cpp.
TEST(SourceRules, TheCoreIncludesNoAdapterLibrary) {
  const std::regex banned_angled(R"(^(boost/|sqlite3\.h|nlohmann/|torch/|ATen/|c10/|yaml-cpp/))");
  std::set<std::string> seen;
  std::vector<std::string> todo = FilesUnder("daemon/core");
  ASSERT_GE(todo.size(), 10u);
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
    for (const std::string& q : quoted) todo.push_back(q);  // the .cc files of common/ are their own library
  }
  EXPECT_TRUE(violations.empty()) << "the core includes what it must not:\n" << violations;
  EXPECT_TRUE(seen.count("daemon/core/executor.h") && seen.count("common/worker_protocol.h"));
  // The rule finds what it is meant to find.
  EXPECT_TRUE(std::regex_search(std::string("nlohmann/json.hpp"), banned_angled));
  EXPECT_TRUE(std::regex_search(std::string("boost/asio/io_context.hpp"), banned_angled));
  EXPECT_FALSE(std::regex_search(std::string("spdlog/spdlog.h"), banned_angled));
}

// tests/daemon/ mirrors daemon/'s folders.
TEST(SourceRules, TheDaemonTestsMirrorItsFolders) {
  for (const std::string& file : FilesUnder("tests/daemon")) {
    const std::string folder = fs::path(file).parent_path().string().substr(std::string("tests/").size());
    EXPECT_TRUE(fs::is_directory(fs::path(CARBON_SOURCE_DIR) / folder)) << file << ": no " << folder << "/";
  }
}

}  // namespace
}  // namespace carbon

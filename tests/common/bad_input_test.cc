// The malformed job corpus (tests/fixtures/bad/jobs): each file's error names
// the field or the kind of problem and where, and carbond stores nothing.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "common/job_spec.h"
#include "common/time_util.h"
#include "daemon/http/api_router.h"
#include "daemon/store/sqlite_job_store.h"
#include "tests/support/fakes.h"
#include "tests/support/files.h"

namespace carbon {
namespace {

struct Case {
  std::string file, what, where;
};

std::vector<Case> Corpus() {
  std::vector<Case> out;
  std::istringstream in(fakes::ReadSourceFile("tests/fixtures/bad/jobs/EXPECTED.tsv"));
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    Case c;
    std::istringstream cols(line);
    std::getline(cols, c.file, '\t');
    std::getline(cols, c.what, '\t');
    std::getline(cols, c.where, '\t');
    out.push_back(c);
  }
  return out;
}

TEST(BadInput, EveryMalformedJobFileGetsItsOwnErrorWithItsPlace) {
  auto corpus = Corpus();
  ASSERT_GE(corpus.size(), 50u);
  for (const Case& c : corpus) {
    const std::string text = fakes::ReadSourceFile("tests/fixtures/bad/jobs/" + c.file);
    auto spec = ParseJobSpec(text, c.file);
    ASSERT_FALSE(spec.ok()) << c.file << " was accepted";
    EXPECT_NE(spec.status().message().find(c.what), std::string::npos) << c.file << ": " << spec.status().message();
    EXPECT_NE(spec.status().message().find(c.where), std::string::npos) << c.file << ": " << spec.status().message();
  }
}

TEST(BadInput, CarbondRefusesEachWith400AndStoresNothing) {
  fakes::TempDir dir;
  auto store = SqliteJobStore::Open(dir / "carbond.db").value();
  fakes::FakeExecutor exec;
  PolicyRegistry policies;
  FakeClock clock(*ParseTime("2026-11-26T12:00:00Z"));
  Scheduler sched(*store, exec, policies, clock, SchedulerOptions{1, 3, dir / "runs"});
  ApiRouter router(sched, *store, RouterInfo{"test", "db"});
  auto post = [&](const std::string& target, const std::string& body) {
    api::Request r;
    r.method = "POST";
    r.target = target;
    r.body = body;
    r.content_type = "application/yaml";
    r.peer_uid = 1000;
    return router.Handle(r);
  };
  ASSERT_EQ(post("/v1/jobs", "name: kept\n").status, 201);  // one good job, which must stay as it is
  const std::string before = store->Get(1)->spec_text;
  for (const Case& c : Corpus()) {
    const std::string text = fakes::ReadSourceFile("tests/fixtures/bad/jobs/" + c.file);
    for (const char* q : {"", "&with_baseline=true"}) {
      auto r = post("/v1/jobs?filename=" + c.file + q, text);
      EXPECT_EQ(r.status, 400) << c.file << q << ": " << r.body;
      auto msg = nlohmann::json::parse(r.body)["error"]["message"].get<std::string>();
      if (!text.empty()) {
        EXPECT_NE(msg.find(c.what), std::string::npos) << c.file << ": " << msg;
      }
    }
  }
  JobFilter all;
  all.limit = 1000;
  EXPECT_EQ(store->List(all)->size(), 1u);
  EXPECT_EQ(store->Get(1)->spec_text, before);
}

}  // namespace
}  // namespace carbon

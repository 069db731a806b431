// Slurm's command output (daemon/exec/slurm/slurm_output.h), on what Slurm 22.05
// printed (tests/fixtures/slurm/) and on the lines it may print.
#include "daemon/exec/slurm/slurm_output.h"
#include "daemon/exec/slurm/slurm_executor.h"

#include <gtest/gtest.h>

#include "tests/support/files.h"

namespace carbon::slurm {
namespace {

std::string Fixture(const std::string& name) { return fakes::ReadSourceFile("tests/fixtures/slurm/" + name); }

TEST(SlurmOutput, SbatchGivesTheJobId) {
  EXPECT_EQ(*ParseSbatch(Fixture("sbatch.out")), 1);
  EXPECT_EQ(*ParseSbatch(Fixture("sbatch2.out")), 2);
  EXPECT_EQ(*ParseSbatch("42;cluster\n"), 42);  // a federation's form
  for (const char* bad : {"", "\n", "Submitted batch job 3\n", "-1", "3x", ";cluster"}) {
    auto r = ParseSbatch(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("not a job id"), std::string::npos);
  }
}

TEST(SlurmOutput, SqueueRowsFromHeldToEnded) {
  auto held = ParseSqueue(Fixture("squeue-held.out"));
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  ASSERT_EQ(held->size(), 1u);
  const QueueRow& h = (*held)[0];
  EXPECT_EQ(h.id, 1);
  EXPECT_EQ(h.state, "PENDING");
  EXPECT_EQ(h.reason, "JobHeldUser");
  EXPECT_EQ(h.name, "carbond-42");
  EXPECT_EQ(h.comment, "carbond:42:7f3a9c");
  EXPECT_EQ(PhaseOf(h.state, h.reason), Phase::kHeld);

  auto running = ParseSqueue(Fixture("squeue-running.out"));
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(PhaseOf((*running)[0].state, (*running)[0].reason), Phase::kRunning);

  auto ended = ParseSqueue(Fixture("squeue-ended.out"));
  ASSERT_TRUE(ended.ok());
  ASSERT_EQ(ended->size(), 2u);
  EXPECT_EQ(PhaseOf((*ended)[0].state, (*ended)[0].reason), Phase::kCancelled);
  EXPECT_EQ((*ended)[1].reason, "NonZeroExitCode");
  EXPECT_EQ(PhaseOf((*ended)[1].state, (*ended)[1].reason), Phase::kFailed);
  EXPECT_TRUE(ParseSqueue("").ok());
  EXPECT_TRUE(ParseSqueue("")->empty());
  // A comment with '|' in it stays whole; a short or non-numeric line is an error.
  EXPECT_EQ((*ParseSqueue("7|PENDING|Priority|n|a|b\n"))[0].comment, "a|b");
  // Other users' array and heterogeneous jobs are left out, not an error.
  auto mixed = ParseSqueue("8_1|RUNNING|None|arr|\n8_[2-9]|PENDING|JobArrayTaskLimit|arr|\n9+0|RUNNING|None|het|\n"
                           "10|RUNNING|None|a|b|c|carbond:1:x\n");
  ASSERT_TRUE(mixed.ok()) << mixed.status().ToString();
  ASSERT_EQ(mixed->size(), 1u);
  EXPECT_FALSE(ParseJobComment((*mixed)[0].comment));  // a name with '|' is not carbond's
  for (const char* bad : {"7|PENDING|Priority|n\n", "1|RUNNING|None|n|c\ngarbage\n"}) {
    auto r = ParseSqueue(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("(id|state|reason|name|comment)"), std::string::npos);
  }
}

TEST(SlurmOutput, SacctRecordsTheExitAndSkipsSteps) {
  auto failed = ParseSacct(Fixture("sacct-failed.out"));
  ASSERT_TRUE(failed.ok()) << failed.status().ToString();
  ASSERT_EQ(failed->size(), 1u);
  const AcctRow& f = (*failed)[0];
  EXPECT_EQ(f.id, 2);
  EXPECT_EQ(f.name, "carbond-43");
  EXPECT_EQ(f.state, "FAILED");
  EXPECT_EQ(f.exit_code, 3);
  EXPECT_EQ(f.signal, 0);
  ASSERT_TRUE(f.start && f.end);
  EXPECT_EQ(*f.end - *f.start, std::chrono::seconds(1));
  EXPECT_EQ(f.comment, "");  // jobcomp/filetxt does not record it
  auto cancelled = ParseSacct(Fixture("sacct-cancelled.out"));
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(PhaseOf((*cancelled)[0].state, ""), Phase::kCancelled);
  EXPECT_TRUE(ParseSacct(Fixture("sacct-unknown.out"))->empty());
  // slurmdbd's sacct: steps, "CANCELLED by 0", Unknown times, a signal.
  auto db = ParseSacct(
      "5|train|CANCELLED by 0|0:15|2026-11-28T06:00:00|Unknown|carbond:9:abc\n"
      "5.batch|batch|CANCELLED|0:15|2026-11-28T06:00:00|2026-11-28T06:01:00|\n"
      "5.extern|extern|COMPLETED|0:0|2026-11-28T06:00:00|2026-11-28T06:01:00|\n");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_EQ(db->size(), 1u);
  EXPECT_EQ((*db)[0].state, "CANCELLED");
  EXPECT_EQ((*db)[0].signal, 15);
  EXPECT_FALSE((*db)[0].end);
  EXPECT_EQ((*db)[0].comment, "carbond:9:abc");
  for (const char* bad : {"5|train|FAILED|3|x|y|\n", "5|train|FAILED\n", "five|train|FAILED|3:0|x|y|\n"})
    EXPECT_FALSE(ParseSacct(bad).ok()) << bad;
}

TEST(SlurmOutput, FailuresAreToldApartByStderr) {
  EXPECT_EQ(ClassifyFailure(Fixture("squeue-down.err")), Failure::kControllerDown);
  EXPECT_EQ(ClassifyFailure(Fixture("sbatch-down.err")), Failure::kControllerDown);
  EXPECT_EQ(ClassifyFailure(Fixture("squeue-invalid.err")), Failure::kInvalidJobId);
  EXPECT_EQ(ClassifyFailure(Fixture("sbatch-badpart.err")), Failure::kOther);
  EXPECT_EQ(ClassifyFailure(""), Failure::kOther);
}

TEST(SlurmOutput, EveryStateHasAPhase) {
  struct Case {
    const char* state;
    const char* reason;
    Phase phase;
  };
  for (const Case& c : std::vector<Case>{{"PENDING", "JobHeldUser", Phase::kHeld},
                                         {"PENDING", "JobHeldAdmin", Phase::kHeld},
                                         {"PENDING", "Resources", Phase::kPending},
                                         {"PENDING", "Priority", Phase::kPending},
                                         {"REQUEUE_HOLD", "JobHeldAdmin", Phase::kHeld},
                                         {"RUNNING", "None", Phase::kRunning},
                                         {"COMPLETING", "None", Phase::kRunning},
                                         {"CONFIGURING", "None", Phase::kRunning},
                                         {"SUSPENDED", "None", Phase::kRunning},
                                         {"COMPLETED", "None", Phase::kSucceeded},
                                         {"FAILED", "NonZeroExitCode", Phase::kFailed},
                                         {"BOOT_FAIL", "", Phase::kFailed},
                                         {"DEADLINE", "", Phase::kFailed},
                                         {"CANCELLED", "None", Phase::kCancelled},
                                         {"CANCELLED by 1000", "", Phase::kCancelled},
                                         {"PREEMPTED", "", Phase::kRequeue},
                                         {"NODE_FAIL", "", Phase::kRequeue},
                                         {"REQUEUED", "", Phase::kRequeue},
                                         {"TIMEOUT", "TimeLimit", Phase::kTimeout},
                                         {"OUT_OF_MEMORY", "OutOfMemory", Phase::kOutOfMemory},
                                         {"NEW_STATE_2030", "", Phase::kUnknown}}) {
    EXPECT_EQ(PhaseOf(c.state, c.reason), c.phase) << c.state << " " << c.reason;
    EXPECT_EQ(IsFinal(c.phase), c.phase != Phase::kHeld && c.phase != Phase::kPending &&
                                    c.phase != Phase::kRunning && c.phase != Phase::kUnknown);
  }
}

TEST(SlurmOutput, CarbondsCommentIdentifiesItsJob) {
  EXPECT_EQ(JobComment(42, "7f3a9c"), "carbond:42:7f3a9c");
  auto c = ParseJobComment("carbond:42:7f3a9c");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->job_id, 42);
  EXPECT_EQ(c->token, "7f3a9c");
  for (const char* other : {"", "carbond:42", "carbond:42:", "carbond:x:abc", "somebody:42:abc", "carbond:42:a b",
                            "carbond:42:a=b", "carbond:-1:abc"})
    EXPECT_FALSE(ParseJobComment(other)) << other;
}

// How a job's end reads for carbond, from what sacct recorded (the fixtures)
// and from lines of the states Slurm ends jobs in.
TEST(SlurmOutput, OnlyCompletedSucceedsAndEachEndSaysWhetherToRetry) {
  using protocol::WorkerExit;
  auto row = [](const std::string& line) { return ParseSacct(line)->front(); };
  const AcctRow failed = ParseSacct(Fixture("sacct-failed.out"))->front();
  ExitInfo e = ExitOf(2, "", "", failed, std::nullopt);
  EXPECT_EQ(e.outcome, WorkerExit::kOutOfMemory);  // exit 3: the worker's own out-of-memory code
  EXPECT_EQ(e.exit_status, 3);
  EXPECT_EQ(e.description, "Slurm job 2 FAILED, exit 3:0");
  EXPECT_FALSE(e.no_retry);
  // Cancelled jobs record 0:0: not a success. By carbond: its cancel; by
  // someone else: failed, not retried.
  const AcctRow cancelled = ParseSacct(Fixture("sacct-cancelled.out"))->front();
  e = ExitOf(1, "", "", cancelled, StopMode::kCancel);
  EXPECT_EQ(e.outcome, WorkerExit::kFailed);
  EXPECT_FALSE(e.no_retry);
  e = ExitOf(1, "", "", cancelled, std::nullopt);
  EXPECT_TRUE(e.no_retry);
  EXPECT_EQ(e.description, "Slurm job 1 CANCELLED, exit 0:0, cancelled in Slurm outside carbond (scancel)");
  // A drain's stop resumes whatever Slurm says.
  EXPECT_EQ(ExitOf(1, "", "", cancelled, StopMode::kDrain).outcome, WorkerExit::kInterrupted);
  EXPECT_EQ(ExitOf(5, "", "", row("5|j|COMPLETED|0:0|Unknown|Unknown|"), std::nullopt).outcome, WorkerExit::kOk);
  EXPECT_EQ(ExitOf(5, "", "", row("5|j|TIMEOUT|0:0|Unknown|Unknown|"), std::nullopt).outcome, WorkerExit::kFailed);
  EXPECT_EQ(ExitOf(5, "", "", row("5|j|OUT_OF_MEMORY|0:125|Unknown|Unknown|"), std::nullopt).outcome,
            WorkerExit::kOutOfMemory);
  for (const char* requeue : {"5|j|NODE_FAIL|0:0|Unknown|Unknown|", "5|j|PREEMPTED|0:15|Unknown|Unknown|"}) {
    e = ExitOf(5, "", "", row(requeue), std::nullopt);
    EXPECT_EQ(e.outcome, WorkerExit::kInterrupted) << requeue;
    EXPECT_FALSE(e.no_retry) << requeue;
  }
  // A worker's exit code through Slurm: 75 checkpointed and stopped.
  EXPECT_EQ(ExitOf(5, "", "", row("5|j|FAILED|75:0|Unknown|Unknown|"), std::nullopt).outcome,
            WorkerExit::kInterrupted);
  // Gone from squeue and from accounting: it may have run; never again.
  e = ExitOf(9999, "", "", std::nullopt, std::nullopt);
  EXPECT_TRUE(e.no_retry);
  EXPECT_EQ(e.description, "Slurm job 9999 vanished from squeue and sacct; it may have run, so it is not run again");
  // Seen final in squeue with no accounting: squeue's state and reason.
  e = ExitOf(7, "TIMEOUT", "TimeLimit", std::nullopt, std::nullopt);
  EXPECT_EQ(e.description, "Slurm job 7 TIMEOUT (TimeLimit)");
  EXPECT_EQ(e.outcome, WorkerExit::kFailed);
}

}  // namespace
}  // namespace carbon::slurm

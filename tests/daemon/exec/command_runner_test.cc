// CommandRunner (daemon/exec/command_runner.h): real processes on a real event
// loop: output, exit codes, the exact environment, the timeout, output
// larger than its cap, many at once, and a program that does not exist.
#include "daemon/exec/command_runner.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <optional>

namespace carbon {
namespace {

using std::chrono::milliseconds;

// Runs one command to its end on a fresh loop.
CommandResult RunOne(std::vector<std::string> argv, std::vector<std::string> env = {},
                     milliseconds timeout = milliseconds(10000)) {
  boost::asio::io_context io;
  CommandRunner runner(io);
  std::optional<CommandResult> result;
  Status st = runner.Run(std::move(argv), std::move(env), timeout, [&](CommandResult r) { result = std::move(r); });
  EXPECT_TRUE(st.ok()) << st.ToString();
  while (!result && io.run_one_for(std::chrono::seconds(20)) > 0) {
  }
  EXPECT_TRUE(result) << "no result";
  EXPECT_EQ(runner.running(), 0u);
  return result.value_or(CommandResult{});
}

TEST(CommandRunner, OutputErrorsAndExitCodes) {
  CommandResult echo = RunOne({"/bin/echo", "hello", "a b"});
  EXPECT_TRUE(echo.ok());
  EXPECT_EQ(echo.out, "hello a b\n");  // arguments as given, no shell splitting
  EXPECT_EQ(echo.err, "");
  CommandResult fail = RunOne({"/bin/sh", "-c", "echo out; echo first >&2; echo 'the reason' >&2; exit 3"});
  EXPECT_FALSE(fail.ok());
  EXPECT_EQ(fail.exit_code, 3);
  EXPECT_EQ(fail.out, "out\n");
  EXPECT_EQ(fail.Describe(), "exited with status 3: the reason");
  CommandResult killed = RunOne({"/bin/sh", "-c", "kill -9 $$"});
  EXPECT_EQ(killed.signal, 9);
  EXPECT_EQ(killed.Describe(), "killed by signal 9");
}

TEST(CommandRunner, TheEnvironmentIsExactlyTheOneGiven) {
  CommandResult env = RunOne({"/usr/bin/env"}, {"A=1", "B=x,y z"});
  EXPECT_EQ(env.out, "A=1\nB=x,y z\n");
}

TEST(CommandRunner, ATimeoutKillsTheCommandAndItsChildren) {
  const auto t0 = std::chrono::steady_clock::now();
  CommandResult slow = RunOne({"/bin/sh", "-c", "sleep 30 & sleep 30"}, {}, milliseconds(300));
  EXPECT_TRUE(slow.timed_out);
  EXPECT_FALSE(slow.ok());
  EXPECT_EQ(slow.Describe(), "timed out");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
}

TEST(CommandRunner, OutputBeyondTheCapIsCutNotBlocking) {
  CommandResult big = RunOne({"/usr/bin/head", "-c", std::to_string(CommandRunner::kMaxOutput + 100000), "/dev/zero"});
  EXPECT_TRUE(big.ok());
  EXPECT_EQ(big.out.size(), CommandRunner::kMaxOutput);
}

TEST(CommandRunner, ManyAtOnceAndAProgramThatDoesNotExist) {
  boost::asio::io_context io;
  CommandRunner runner(io);
  int done = 0;
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(runner.Run({"/bin/echo", std::to_string(i)}, {}, milliseconds(10000), [&, i](CommandResult r) {
                  EXPECT_EQ(r.out, std::to_string(i) + "\n");
                  ++done;
                }).ok());
  while (done < 20 && io.run_one_for(std::chrono::seconds(20)) > 0) {
  }
  EXPECT_EQ(done, 20);
  Status missing = runner.Run({"/nonexistent/sbatch"}, {}, milliseconds(1000), [](CommandResult) { FAIL(); });
  EXPECT_EQ(missing.code(), StatusCode::kUnavailable);
  EXPECT_EQ(missing.message(), "cannot execute '/nonexistent/sbatch': No such file or directory");
  EXPECT_EQ(runner.running(), 0u);
}

}  // namespace
}  // namespace carbon

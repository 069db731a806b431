#include "daemon/exec/command_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>

#include "daemon/exec/local/spawn.h"

namespace carbon {

namespace asio = boost::asio;

struct CommandRunner::Proc {
  explicit Proc(asio::io_context& io) : out(io), err(io), timer(io), eof_timer(io) {}
  pid_t pid = -1;
  asio::posix::stream_descriptor out, err;
  std::array<char, 8192> out_buf{}, err_buf{};
  asio::steady_timer timer, eof_timer;
  std::chrono::milliseconds timeout{0};
  CommandResult result;
  bool out_eof = false, err_eof = false, reaped = false, finished = false;
  int wait_status = 0;
  Done done;
};

std::string CommandResult::Describe() const {
  if (timed_out) return "timed out";
  if (signal) return "killed by signal " + std::to_string(signal);
  std::string s = "exited with status " + std::to_string(exit_code);
  std::string e = err;
  while (!e.empty() && (e.back() == '\n' || e.back() == ' ')) e.pop_back();
  if (size_t nl = e.rfind('\n'); nl != std::string::npos) e = e.substr(nl + 1);
  return e.empty() ? s : s + ": " + e;
}

CommandRunner::CommandRunner(asio::io_context& io) : io_(io), sigchld_(io, SIGCHLD) { WaitForSigchld(); }

CommandRunner::~CommandRunner() {
  for (auto& [pid, p] : procs_) {
    if (!p->reaped) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
}

Status CommandRunner::Run(std::vector<std::string> argv, std::vector<std::string> env,
                          std::chrono::milliseconds timeout, Done done) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Unavailable(std::string("pipe2: ") + std::strerror(errno));
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return Unavailable(std::string("pipe2: ") + std::strerror(errno));
  }
  SpawnOptions o;
  o.argv = std::move(argv);
  o.env = std::move(env);
  o.stdout_fd = out[1];
  o.stderr_fd = err[1];
  auto pid = Spawn(o);
  ::close(out[1]);
  ::close(err[1]);
  if (!pid.ok()) {
    ::close(out[0]);
    ::close(err[0]);
    return pid.status();
  }
  auto p = std::make_shared<Proc>(io_);
  p->pid = *pid;
  p->out.assign(out[0]);
  p->err.assign(err[0]);
  p->timeout = timeout;
  p->done = std::move(done);
  procs_[*pid] = p;
  p->timer.expires_after(timeout);
  p->timer.async_wait([p](const boost::system::error_code& ec) {
    if (ec || p->reaped) return;
    p->result.timed_out = true;
    ::kill(-p->pid, SIGKILL);
  });
  Read(p, false);
  Read(p, true);
  return Status();
}

void CommandRunner::Read(const std::shared_ptr<Proc>& p, bool err) {
  auto& stream = err ? p->err : p->out;
  auto& buf = err ? p->err_buf : p->out_buf;
  stream.async_read_some(asio::buffer(buf), [this, p, err](const boost::system::error_code& ec, size_t n) {
    std::string& text = err ? p->result.err : p->result.out;
    if (ec) {
      (err ? p->err_eof : p->out_eof) = true;
      MaybeFinish(p);
      return;
    }
    text.append((err ? p->err_buf : p->out_buf).data(), std::min(n, kMaxOutput - std::min(kMaxOutput, text.size())));
    Read(p, err);
  });
}

void CommandRunner::WaitForSigchld() {
  sigchld_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    std::vector<std::shared_ptr<Proc>> reaped;
    for (auto& [pid, p] : procs_) {
      if (p->reaped) continue;
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        p->reaped = true;
        p->wait_status = status;
        reaped.push_back(p);
      }
    }
    for (auto& p : reaped) {
      p->timer.cancel();
      // The pipes close with the process; if a grandchild still holds them,
      // stop waiting after a moment.
      p->eof_timer.expires_after(std::chrono::seconds(2));
      p->eof_timer.async_wait([p](const boost::system::error_code& e) {
        if (e) return;
        boost::system::error_code ignored;
        if (!p->out_eof) p->out.close(ignored);
        if (!p->err_eof) p->err.close(ignored);
      });
      MaybeFinish(p);
    }
    WaitForSigchld();
  });
}

void CommandRunner::MaybeFinish(const std::shared_ptr<Proc>& p) {
  if (!p->reaped || !p->out_eof || !p->err_eof || p->finished) return;
  p->finished = true;
  p->eof_timer.cancel();
  const int st = p->wait_status;
  if (WIFEXITED(st)) p->result.exit_code = WEXITSTATUS(st);
  if (WIFSIGNALED(st)) p->result.signal = WTERMSIG(st);
  if (p->result.timed_out) p->result.signal = 0;
  procs_.erase(p->pid);
  if (p->done) p->done(std::move(p->result));
}

}  // namespace carbon

#include "daemon/exec/local/process_executor.h"

#include "common/paths.h"
#include "daemon/exec/local/spawn.h"
#include "daemon/core/worker_launch.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <spdlog/spdlog.h>
#include <vector>

namespace carbon {

namespace asio = boost::asio;
namespace fs = std::filesystem;

struct ProcessExecutor::Child {
  Child(asio::io_context& io, int64_t id)
      : job_id(id), events(io), poll_timer(io), said(id), kill_timer(io), eof_timer(io), memory_timer(io) {}
  int64_t job_id;
  pid_t pid = -1;
  std::string run_dir;
  asio::local::stream_protocol::socket events;
  std::array<char, 8192> buf{};
  protocol::EventStreamDecoder decoder;                 // the socketpair's bytes
  std::unique_ptr<protocol::EventsFileFollower> follower;  // or the events file's
  asio::steady_timer poll_timer;
  WorkerEvents said;  // what its worker said, and whether it was refused
  asio::steady_timer kill_timer;
  asio::steady_timer eof_timer;
  asio::steady_timer memory_timer;
  int64_t over_memory_rss = 0;  // bytes, when carbond killed it for worker.memory_limit
  bool reaped = false;
  bool eof = false;
  bool finished = false;
  int wait_status = 0;
  bool stop_requested = false;
  StopMode stop_mode = StopMode::kCancel;
  Duration kill_after{};  // from a stop to SIGKILL
};

ProcessExecutor::ProcessExecutor(asio::io_context& io, ProcessExecutorOptions options)
    : io_(io), options_(std::move(options)), sigchld_(io, SIGCHLD) {
  WaitForSigchld();
}

ProcessExecutor::~ProcessExecutor() {
  for (auto& [id, c] : children_) {
    if (!c->reaped) {
      ::kill(-c->pid, SIGKILL);
      ::waitpid(c->pid, nullptr, 0);
    }
  }
}

StatusOr<std::string> ResolveWorkerPath(const std::string& path) {
  auto executable = [](const fs::path& p) { return ::access(p.c_str(), X_OK) == 0 && fs::is_regular_file(p); };
  if (path.find('/') != std::string::npos) {
    if (!executable(path)) return NotFound("worker binary '" + path + "' is not an executable file");
    return fs::absolute(path).string();
  }
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && executable(self.parent_path() / path)) return (self.parent_path() / path).string();
  if (const char* env = std::getenv("PATH")) {
    std::string p(env);
    size_t start = 0;
    while (start <= p.size()) {
      size_t end = p.find(':', start);
      if (end == std::string::npos) end = p.size();
      fs::path cand = fs::path(p.substr(start, end - start)) / path;
      if (end > start && executable(cand)) return cand.string();
      start = end + 1;
    }
  }
  return NotFound("worker binary '" + path + "' was found neither beside carbond (" +
                  self.parent_path().string() + ") nor in PATH; set worker.path in carbond.yaml");
}

std::vector<std::string> ProcessExecutor::FreeGpus() const {
  std::vector<std::string> free;
  for (const std::string& g : options_.gpus) {
    bool used = false;
    for (const auto& [id, gs] : gpus_in_use_) used = used || std::find(gs.begin(), gs.end(), g) != gs.end();
    if (!used) free.push_back(g);
  }
  return free;
}

namespace {
// The GPUs a stored job asks for; a spec that no longer parses asks for none
// (the worker rejects it with the reason).
int64_t GpusOf(const JobRecord& job) {
  auto spec = ParseJobSpec(job.spec_text, "job " + std::to_string(job.id));
  return spec.ok() ? GpusWanted(*spec) : 0;
}
}  // namespace

bool ProcessExecutor::Ready(const JobRecord& job, std::string* why) const {
  if (options_.gpus.empty()) return true;
  const int64_t want = GpusOf(job);
  const size_t free = FreeGpus().size();
  if (want <= static_cast<int64_t>(free)) return true;
  if (why) {
    std::string users;
    for (const auto& [id, gs] : gpus_in_use_)
      if (!gs.empty()) users += (users.empty() ? "" : ", ") + std::to_string(id);
    *why = "waiting for " + std::to_string(want) + (want == 1 ? " GPU" : " GPUs") + " (" +
           std::to_string(options_.gpus.size() - free) + " of " + std::to_string(options_.gpus.size()) +
           " in worker.gpus in use" + (users.empty() ? "" : " by jobs " + users) + ")";
  }
  return false;
}

Status ProcessExecutor::Accepts(const JobSpec& spec) const {
  const int64_t want = GpusWanted(spec);
  if (options_.gpus.empty() || want <= static_cast<int64_t>(options_.gpus.size())) return Status();
  const std::string field = spec.run ? "run.gpus" : "train.gpus";
  return InvalidArgument(field + ": the job asks for " + std::to_string(want) + " GPUs but worker.gpus lists " +
                             std::to_string(options_.gpus.size()) + "; accepted: at most " +
                             std::to_string(options_.gpus.size()),
                         field);
}

Status ProcessExecutor::Start(const JobRecord& job, const std::string& run_dir) {
  if (children_.count(job.id)) return FailedPrecondition("job already has a worker");
  std::vector<std::string> given;
  if (!options_.gpus.empty()) {
    const int64_t want = GpusOf(job);
    std::vector<std::string> free = FreeGpus();
    if (want > static_cast<int64_t>(free.size()))
      return Unavailable("job " + std::to_string(job.id) + " asks for " + std::to_string(want) + " GPUs; " +
                         std::to_string(free.size()) + " are free");
    given.assign(free.begin(), free.begin() + want);
  }
  const std::string log_file = run_dir + "/worker.log";
  int log_fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0640);
  if (log_fd < 0) return Unavailable("cannot open " + log_file + ": " + std::strerror(errno));

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    ::close(log_fd);
    return Unavailable(std::string("socketpair: ") + std::strerror(errno));
  }
  int gate[2] = {-1, -1};
  if (before_training_ && ::pipe2(gate, O_CLOEXEC) != 0) {
    ::close(log_fd);
    ::close(sv[0]);
    ::close(sv[1]);
    return Unavailable(std::string("pipe2: ") + std::strerror(errno));
  }
  const bool file_transport = options_.event_transport == EventTransport::kFile;
  const std::string events_file = run_dir + "/events.jsonl";
  SpawnOptions spawn;
  std::vector<std::string> transport;
  if (file_transport) {
    transport = {"--events-file", events_file};
  } else {
    spawn.extra_fds.push_back(sv[1]);
    transport = {"--event-fd", std::to_string(2 + spawn.extra_fds.size())};
  }
  if (gate[0] >= 0) {
    spawn.extra_fds.push_back(gate[0]);
    transport.insert(transport.end(), {"--go-fd", std::to_string(2 + spawn.extra_fds.size())});
  }
  // A command job's supervisor watches its whole tree against worker.memory_limit.
  std::vector<std::string> flags = options_.worker_flags;
  for (std::string& f : CommandFlags(job, options_.memory_limit)) flags.push_back(std::move(f));
  auto launch = MakeLaunch(job, run_dir, job.attempts, {options_.worker_path, flags}, transport);
  if (!launch.ok()) {
    for (int fd : {log_fd, sv[0], sv[1], gate[0], gate[1]})
      if (fd >= 0) ::close(fd);
    return launch.status();
  }
  spawn.argv = launch->argv;
  if (options_.gpus.empty()) {
    spawn.env = EnvironmentWithout(options_.env_drop);
  } else {
    // Its GPUs only (none for a CPU job), numbered as NVML and nvidia-smi number them.
    std::vector<std::string> drop = options_.env_drop;
    drop.insert(drop.end(), {"CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER"});
    spawn.env = EnvironmentWithout(drop);
    std::string visible;
    for (const std::string& g : given) visible += (visible.empty() ? "" : ",") + g;
    spawn.env.push_back("CUDA_VISIBLE_DEVICES=" + visible);
    spawn.env.push_back("CUDA_DEVICE_ORDER=PCI_BUS_ID");
  }
  spawn.stdout_fd = spawn.stderr_fd = log_fd;
  auto pid = Spawn(spawn);
  ::close(sv[1]);
  ::close(log_fd);
  if (gate[0] >= 0) ::close(gate[0]);
  if (!pid.ok()) {
    ::close(sv[0]);
    if (gate[1] >= 0) ::close(gate[1]);
    return Unavailable("cannot execute worker '" + options_.worker_path + "': " +
                       pid.status().message().substr(pid.status().message().rfind(": ") + 2));
  }

  auto child = std::make_shared<Child>(io_, job.id);
  child->pid = *pid;
  child->run_dir = run_dir;
  child->kill_after = KillAfter(job, options_.cancel_grace);
  children_[job.id] = child;
  if (!options_.gpus.empty()) gpus_in_use_[job.id] = given;
  spdlog::debug("job {}: worker pid {} started", job.id, *pid);
  if (file_transport) {
    ::close(sv[0]);
    child->eof = true;  // nothing to wait for but the process
    child->follower = std::make_unique<protocol::EventsFileFollower>(events_file, launch->events_offset);
    FollowEventsFile(child);
  } else {
    child->events.assign(asio::local::stream_protocol(), sv[0]);
    ReadEvents(child);
  }
  WatchMemory(child);
  if (gate[1] >= 0) {
    before_training_(job.id);
    // One byte opens the gate; closing it alone (carbond gone) does not.
    const char go = 'g';
    ssize_t w;
    do {
      w = ::write(gate[1], &go, 1);
    } while (w < 0 && errno == EINTR);
    if (w != 1) spdlog::warn("job {}: cannot open the worker's start gate: {}", job.id, std::strerror(errno));
    ::close(gate[1]);
  }
  return Status();
}

namespace {
// The resident set of a process in bytes (VmRSS), or -1 when it is gone.
int64_t ResidentBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoll(line.c_str() + 6, nullptr, 10) * 1024;
  return -1;
}

std::string Mib(int64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }
}  // namespace

void ProcessExecutor::WatchMemory(const std::shared_ptr<Child>& child) {
  child->memory_timer.expires_after(options_.memory_poll);
  child->memory_timer.async_wait([this, child](const boost::system::error_code& ec) {
    if (ec || child->reaped || child->over_memory_rss > 0) return;
    const int64_t limit = options_.memory_limit;
    if (const int64_t rss = limit > 0 ? ResidentBytes(child->pid) : -1; rss > limit) {
      child->over_memory_rss = rss;
      spdlog::warn("job {}: worker uses {} of memory, over worker.memory_limit {}; killing it", child->job_id,
                   Mib(rss), Mib(limit));
      ::kill(-child->pid, SIGKILL);
      return;
    }
    WatchMemory(child);
  });
}

Status ProcessExecutor::Stop(int64_t job_id, StopMode mode) {
  auto it = children_.find(job_id);
  if (it == children_.end()) return NotFound("job " + std::to_string(job_id) + " has no worker");
  auto child = it->second;
  if (child->reaped) return Status();
  child->stop_requested = true;
  child->stop_mode = mode;
  ::kill(-child->pid, SIGTERM);
  child->kill_timer.expires_after(child->kill_after);
  child->kill_timer.async_wait([child](const boost::system::error_code& ec) {
    if (ec || child->reaped) return;
    spdlog::warn("job {}: worker did not stop within the grace period; sending SIGKILL",
                 child->job_id);
    ::kill(-child->pid, SIGKILL);
  });
  return Status();
}

void ProcessExecutor::WaitForSigchld() {
  sigchld_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    for (auto& [id, child] : children_) {
      if (child->reaped) continue;
      int status = 0;
      pid_t r = ::waitpid(child->pid, &status, WNOHANG);
      if (r == child->pid) {
        child->reaped = true;
        child->wait_status = status;
      }
    }
    std::vector<std::shared_ptr<Child>> reaped;
    for (auto& [id, child] : children_)
      if (child->reaped) reaped.push_back(child);
    for (auto& c : reaped) {
      if (!c->eof) {
        // The events socket should close with the process; if a grandchild
        // still holds it, stop waiting after a moment.
        c->eof_timer.expires_after(std::chrono::seconds(2));
        c->eof_timer.async_wait([c](const boost::system::error_code& e) {
          if (!e && !c->eof) {
            boost::system::error_code ignored;
            c->events.close(ignored);
          }
        });
      }
      MaybeFinish(c);
    }
    WaitForSigchld();
  });
}

void ProcessExecutor::ReadEvents(std::shared_ptr<Child> child) {
  child->events.async_read_some(
      asio::buffer(child->buf), [this, child](const boost::system::error_code& ec, size_t n) {
        if (ec) {
          child->eof = true;
          child->eof_timer.cancel();
          MaybeFinish(child);
          return;
        }
        child->decoder.Feed(std::string_view(child->buf.data(), n),
                            [&](StatusOr<protocol::Event> e, std::string_view line) { Deliver(child, std::move(e), line); });
        ReadEvents(child);
      });
}

void ProcessExecutor::FollowEventsFile(std::shared_ptr<Child> child) {
  child->poll_timer.expires_after(options_.events_file_poll);
  child->poll_timer.async_wait([this, child](const boost::system::error_code& ec) {
    if (ec || child->finished) return;
    PollEventsFile(child);
    FollowEventsFile(child);
  });
}

void ProcessExecutor::PollEventsFile(const std::shared_ptr<Child>& child) {
  Status st = child->follower->Poll(
      [&](StatusOr<protocol::Event> e, std::string_view line) { Deliver(child, std::move(e), line); });
  if (!st.ok()) spdlog::warn("job {}: {}", child->job_id, st.message());
}

void ProcessExecutor::Deliver(const std::shared_ptr<Child>& child, StatusOr<protocol::Event> event,
                              std::string_view line) {
  if (child->finished) return;
  const bool refused = child->said.Take(std::move(event), line, [&](const protocol::Event& e) {
    if (listener_) listener_->OnWorkerEvent(child->job_id, e);
  });
  if (refused && !child->reaped) {
    child->stop_requested = true;
    ::kill(-child->pid, SIGKILL);
  }
}

void ProcessExecutor::MaybeFinish(const std::shared_ptr<Child>& child) {
  if (!child->reaped || !child->eof || child->finished) return;
  if (child->follower) PollEventsFile(child);  // what it wrote last
  child->finished = true;
  child->kill_timer.cancel();
  child->eof_timer.cancel();
  child->memory_timer.cancel();
  child->poll_timer.cancel();
  ExitInfo info;
  int st = child->wait_status;
  if (WIFEXITED(st)) {
    info.exit_status = WEXITSTATUS(st);
    info.description = "exited with status " + std::to_string(info.exit_status);
    info.outcome = protocol::WorkerExitFromCode(info.exit_status);
  } else if (WIFSIGNALED(st)) {
    int sig = WTERMSIG(st);
    info.exit_status = 128 + sig;
    const char* name = sigabbrev_np(sig);
    info.description = "killed by signal " + std::to_string(sig) +
                       (name ? std::string(" (SIG") + name + ")" : std::string());
    if (child->over_memory_rss > 0) {
      info.outcome = protocol::WorkerExit::kOutOfMemory;
      info.description += " by carbond: its memory (" + Mib(child->over_memory_rss) + " resident) exceeded " +
                          "worker.memory_limit (" + Mib(options_.memory_limit) + ")";
    } else if (sig == SIGKILL && !child->stop_requested) {
      info.description += ", not sent by carbond (the kernel's out-of-memory killer sends it: journalctl -k)";
    }
  }
  if (child->stop_requested && child->stop_mode == StopMode::kDrain && info.outcome != protocol::WorkerExit::kOk)
    info.outcome = protocol::WorkerExit::kInterrupted;
  FinishExit(info, child->said, child->run_dir, options_.stderr_tail_bytes);
  children_.erase(child->job_id);
  gpus_in_use_.erase(child->job_id);
  if (listener_) listener_->OnWorkerExit(child->job_id, info);
}

std::optional<ProcessExecutor::RunningWorker> ProcessExecutor::Worker(int64_t job_id) const {
  auto it = children_.find(job_id);
  if (it == children_.end() || it->second->reaped) return std::nullopt;
  RunningWorker w;
  w.pid = it->second->pid;
  if (auto g = gpus_in_use_.find(job_id); g != gpus_in_use_.end()) w.gpus = g->second;
  return w;
}

}  // namespace carbon

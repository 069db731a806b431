#include "worker/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "worker/job_cgroup.h"
#include "common/time_util.h"

extern char** environ;

namespace carbon::worker {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using protocol::WorkerExit;

// What the supervisor keeps of the job across attempts and pauses.
struct CommandState {
  int64_t rows = 0;    // epoch rows sent so far, over the whole job
  int64_t starts = 0;  // times the program was started
  std::vector<std::string> checkpoints;  // reported files in the checkpoint dir, oldest first
};

CommandState LoadState(const std::string& file) {
  CommandState s;
  auto text = energy::ReadFile(file);
  if (!text) return s;
  auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return s;
  s.rows = j.value("rows", int64_t{0});
  s.starts = j.value("starts", int64_t{0});
  if (j.contains("checkpoints") && j["checkpoints"].is_array())
    for (const auto& c : j["checkpoints"])
      if (c.is_string()) s.checkpoints.push_back(c.get<std::string>());
  return s;
}

// Written to a temp file and renamed: a supervisor killed mid-write leaves the old one.
void SaveJson(const std::string& file, const nlohmann::json& j) {
  const std::string tmp = file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump() << "\n";
    if (!out) return;
  }
  std::rename(tmp.c_str(), file.c_str());
}

void SaveState(const std::string& file, const CommandState& s) {
  SaveJson(file, {{"rows", s.rows}, {"starts", s.starts}, {"checkpoints", s.checkpoints}});
}

std::optional<energy::CarriedEnergy> LoadCarried(const std::string& file) {
  auto text = energy::ReadFile(file);
  if (!text) return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_array()) return std::nullopt;
  std::vector<double> v;
  for (const auto& x : j) v.push_back(x.is_number() ? x.get<double>() : std::nan(""));
  return energy::CarriedEnergy::Unpack(v);
}

void SaveCarried(const std::string& file, const energy::CarriedEnergy& c) {
  nlohmann::json j = nlohmann::json::array();
  for (double x : c.Pack()) j.push_back(std::isnan(x) ? nlohmann::json() : nlohmann::json(x));
  SaveJson(file, j);
}

// The program's output, kept under a limit: a full output.log becomes output.log.1.
class BoundedLog {
 public:
  BoundedLog(std::string path, int64_t limit) : path_(std::move(path)), limit_(limit) { Open(); }
  ~BoundedLog() {
    if (fd_ >= 0) ::close(fd_);
  }
  void Write(const char* data, size_t n) {
    if (fd_ < 0) return;
    if (size_ + static_cast<int64_t>(n) > limit_ && size_ > 0) {
      ::close(fd_);
      std::rename(path_.c_str(), (path_ + ".1").c_str());
      Open();
      if (fd_ < 0) return;
    }
    while (n > 0) {
      ssize_t w = ::write(fd_, data, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return;
      data += w;
      n -= static_cast<size_t>(w);
      size_ += w;
    }
  }
  // The last lines written (at most `bytes`), for a failure's reason.
  std::string Tail(size_t bytes) const {
    auto text = energy::ReadFile(path_).value_or("");
    if (text.size() > bytes) {
      text = text.substr(text.size() - bytes);
      if (auto nl = text.find('\n'); nl != std::string::npos) text = text.substr(nl + 1);
    }
    return text;
  }

 private:
  void Open() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    struct stat st {};
    size_ = fd_ >= 0 && ::fstat(fd_, &st) == 0 ? st.st_size : 0;
  }
  std::string path_;
  int64_t limit_;
  int fd_ = -1;
  int64_t size_ = 0;
};

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = ::strsignal(WTERMSIG(status));
    return "killed by signal " + std::to_string(WTERMSIG(status)) + (name ? std::string(" (") + name + ")" : "");
  }
  return "ended with wait status " + std::to_string(status);
}

// Waits for every child that ended (the program and orphans given to us as
// subreaper); sets *top_status when the top process is among them.
void ReapChildren(pid_t top, std::optional<int>* top_status) {
  int status = 0;
  pid_t p;
  while ((p = ::waitpid(-1, &status, WNOHANG)) > 0)
    if (p == top) *top_status = status;
}

// SIGKILL to every process below the supervisor (and in the job's cgroup,
// where it has one), until none is left (a process forking meanwhile is
// caught by the next round).
void KillTree(pid_t top, std::optional<int>* top_status, JobCgroup* cgroup) {
  if (!*top_status) ::kill(-top, SIGKILL);
  if (cgroup) cgroup->KillAll();
  for (int round = 0; round < 500; ++round) {
    std::vector<std::string> tree = energy::ProcessTree("/proc", std::to_string(::getpid()), /*full_scan=*/true);
    if (tree.size() <= 1) return;
    for (size_t i = 1; i < tree.size(); ++i) ::kill(static_cast<pid_t>(std::stoll(tree[i])), SIGKILL);
    ReapChildren(top, top_status);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ReapChildren(top, top_status);
  }
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

StatusOr<std::string> ResolveProgram(const std::string& program, const std::string& path) {
  if (program.find('/') != std::string::npos) {
    if (::access(program.c_str(), X_OK) == 0) return program;
    return NotFound("run.command[0] '" + program + "' is not an executable file (" + std::strerror(errno) + ")");
  }
  std::stringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return NotFound("run.command[0] '" + program + "' is not found in the job's PATH (" + path +
                  "); give its absolute path, or set PATH in run.env");
}

int RunCommand(const JobSpec& spec, const SupervisorOptions& o, EventChannel& events,
               const std::atomic<bool>& stop) {
  const RunSpec& run = *spec.run;
  const std::string state_file = o.run_dir + "/command-state.json";
  const std::string carried_file = o.run_dir + "/carried-energy.json";
  const std::string events_file = o.run_dir + "/program-events.jsonl";
  const std::string checkpoint_dir = o.run_dir + "/checkpoints";
  std::error_code ec;
  std::filesystem::create_directories(checkpoint_dir, ec);
  // One supervisor per run directory at a time: after a carbond crash, the
  // previous attempt's supervisor may still be stopping its program (its
  // run.stop_grace) while carbond starts the next attempt here. The next one
  // waits for it, so two programs never share the checkpoint folder.
  const int lock_fd = ::open((o.run_dir + "/supervisor.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  struct CloseLock {
    int fd;
    ~CloseLock() {
      if (fd >= 0) ::close(fd);  // releases the lock
    }
  } close_lock{lock_fd};
  if (lock_fd >= 0 && ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    std::fprintf(stderr, "carbon-worker: an earlier supervisor of this job still runs here; waiting for it\n");
    while (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      if (stop.load()) {
        events.Send(protocol::Interrupted{});
        return protocol::ExitCode(WorkerExit::kInterrupted);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  CommandState state = LoadState(state_file);
  const bool resuming = state.starts > 0 || o.attempt > 1;

  // The environment: the worker's, run.env, then carbond's own variables.
  std::vector<std::pair<std::string, std::string>> env;
  auto set = [&env](const std::string& name, const std::string& value) {
    for (auto& kv : env)
      if (kv.first == name) {
        kv.second = value;
        return;
      }
    env.emplace_back(name, value);
  };
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  for (const auto& [name, value] : run.env) set(name, value);
  set("CARBOND_JOB_ID", std::to_string(o.job_id));
  set("CARBOND_RUN_DIR", o.run_dir);
  set("CARBOND_ATTEMPT", std::to_string(o.attempt));
  set("CARBOND_CHECKPOINT_DIR", checkpoint_dir);
  set("CARBOND_EVENTS", events_file);
  set("CARBOND_STOP_SIGNAL", "SIG" + run.stop_signal);
  if (resuming) set("CARBOND_RESUME", "1");
  else
    env.erase(std::remove_if(env.begin(), env.end(), [](const auto& kv) { return kv.first == "CARBOND_RESUME"; }),
              env.end());
  if (!o.python_module_dir.empty()) {
    std::string py = o.python_module_dir;
    for (const auto& kv : env)
      if (kv.first == "PYTHONPATH" && !kv.second.empty()) py += ":" + kv.second;
    set("PYTHONPATH", py);
  }
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  for (const auto& kv : env)
    if (kv.first == "PATH") path = kv.second;

  auto program = ResolveProgram(run.command[0], path);
  if (!program.ok()) {
    std::fprintf(stderr, "carbon-worker: %s\n", program.status().message().c_str());
    events.Send(protocol::Failed{program.status().message(), /*retryable=*/false});
    return protocol::ExitCode(WorkerExit::kRejected);
  }
  const std::string workdir = run.workdir.empty() ? o.run_dir : run.workdir;
  const int stop_signal = StopSignalNumber(run.stop_signal);

  // Everything the child needs, made before fork: it may only exec.
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, argv;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = run.command;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int out[2], err_pipe[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    const std::string msg = std::string("pipe2: ") + std::strerror(errno);
    events.Send(protocol::Failed{msg, /*retryable=*/true});
    return protocol::ExitCode(WorkerExit::kFailed);
  }
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  int64_t events_offset = 0;
  if (struct stat st {}; ::stat(events_file.c_str(), &st) == 0) events_offset = st.st_size;
  protocol::EventsFileFollower follower(events_file, events_offset);

  energy::MeterOptions meter_options = o.meter;
  meter_options.tracker.process_tree = true;
  meter_options.tracker.pid = std::to_string(::getpid());
  meter_options.tracker.process_uses_gpu = GpusWanted(spec) > 0;
  energy::RunMeter meter(meter_options);
  for (const std::string& note : meter.notes()) std::fprintf(stderr, "carbon-worker: energy: %s\n", note.c_str());
  if (auto carried = LoadCarried(carried_file)) meter.Carry(*carried);

  // A cgroup of its own where the system lets us make one.
  std::string no_cgroup;
  std::unique_ptr<JobCgroup> cgroup = JobCgroup::Make(
      "carbond-job-" + std::to_string(o.job_id) + "-" + std::to_string(o.attempt) + "-" + std::to_string(::getpid()),
      &no_cgroup);
  if (cgroup)
    std::fprintf(stderr, "carbon-worker: the job's processes are in cgroup %s\n", cgroup->path().c_str());
  else
    std::fprintf(stderr, "carbon-worker: no cgroup for the job (%s); its tree is kept by its session and this "
                 "supervisor as subreaper\n", no_cgroup.c_str());
  const int cgroup_fd = cgroup ? cgroup->procs_fd() : -1;

  const pid_t parent = ::getpid();
  const pid_t top = ::fork();
  if (top < 0) {
    const std::string msg = std::string("fork: ") + std::strerror(errno);
    events.Send(protocol::Failed{msg, /*retryable=*/true});
    return protocol::ExitCode(WorkerExit::kFailed);
  }
  if (top == 0) {
    // The program: its own session and group, dies with the supervisor.
    ::setsid();
    if (cgroup_fd >= 0) {
      ssize_t moved = ::write(cgroup_fd, "0", 1);  // into the job's cgroup, before anything runs
      (void)moved;
    }
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s = 1; s < NSIG; ++s) ::signal(s, SIG_DFL);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    int err = 0;
    if (::chdir(workdir.c_str()) != 0) {
      err = errno;
    } else {
      ::execve(program->c_str(), argv.data(), envp.data());
      err = errno;
    }
    ssize_t ignored = ::write(err_pipe[1], &err, sizeof err);
    (void)ignored;
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err_pipe[1]);
  int exec_errno = 0;
  const ssize_t got = ::read(err_pipe[0], &exec_errno, sizeof exec_errno);  // EOF: the exec succeeded
  ::close(err_pipe[0]);
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    ::waitpid(top, nullptr, 0);
    ::close(out[0]);
    const std::string msg = "cannot start run.command " + run.command[0] + " in " + workdir + ": " +
                            std::strerror(exec_errno);
    std::fprintf(stderr, "carbon-worker: %s\n", msg.c_str());
    events.Send(protocol::Failed{msg, /*retryable=*/false});
    return protocol::ExitCode(WorkerExit::kRejected);
  }
  ++state.starts;
  SaveState(state_file, state);
  const Clock::time_point began = Clock::now();
  std::fprintf(stderr, "carbon-worker: started %s (pid %d) in %s%s at unix time %.3f\n", program->c_str(),
               static_cast<int>(top), workdir.c_str(), resuming ? ", resuming" : "",
               std::chrono::duration<double>(SystemClock().Now().time_since_epoch()).count());

  protocol::Started started;
  const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
  started.device = GpusWanted(spec) > 0 && visible && *visible ? "cuda" : "cpu";
  started.resumed_epoch = state.rows;
  events.Send(started);

  BoundedLog log(o.run_dir + "/output.log", o.log_limit_bytes);
  Clock::time_point last_row = Clock::now();
  Clock::time_point last_rss = Clock::time_point{};
  int64_t peak_rss = 0;
  bool reported = false;  // the program reported an epoch in this run
  bool checkpointed = false, carried_pending = std::filesystem::exists(carried_file, ec);
  std::optional<double> last_accuracy, best_accuracy, last_loss;

  auto tree_rss = []() {
    return static_cast<int64_t>(energy::TreeRssGib("/proc", std::to_string(::getpid())).value_or(0) * 1073741824.0);
  };
  auto send_row = [&](protocol::Epoch ev, bool from_program) {
    const Clock::time_point now = Clock::now();
    EpochRecord& r = ev.record;
    r.epoch = std::max(r.epoch, state.rows + 1);
    if (r.wall_s <= 0) r.wall_s = Seconds(now - last_row);
    if (r.samples > 0 && r.samples_per_s <= 0 && r.wall_s > 0) r.samples_per_s = r.samples / r.wall_s;
    if (r.peak_memory_bytes <= 0) {
      r.peak_memory_bytes = std::max(peak_rss, tree_rss());
      r.memory_method = "tree-rss";
    }
    meter.AddEpochEnergy(ev);
    events.Send(ev);
    state.rows = r.epoch;
    SaveState(state_file, state);
    if (carried_pending) {
      std::filesystem::remove(carried_file, ec);
      carried_pending = false;
    }
    if (from_program && r.test_accuracy > 0) {
      last_accuracy = r.test_accuracy;
      best_accuracy = std::max(best_accuracy.value_or(0), r.test_accuracy);
    }
    if (from_program) last_loss = r.test_loss;
    last_row = now;
    peak_rss = 0;
  };
  // checkpoint.keep: of the files the program reported inside the
  // checkpoint folder, the newest `keep` stay; older ones are removed.
  auto KeepCheckpoints = [&](const std::string& told) {
    std::error_code fs_ec;
    fs::path p = fs::weakly_canonical(fs::path(told).is_absolute() ? fs::path(told) : fs::path(workdir) / told,
                                      fs_ec);
    const fs::path dir = fs::weakly_canonical(checkpoint_dir, fs_ec);
    const std::string ps = p.string(), ds = dir.string() + "/";
    if (ps.rfind(ds, 0) != 0) return;  // not in the checkpoint folder: the program's own business
    auto& list = state.checkpoints;
    list.erase(std::remove(list.begin(), list.end(), ps), list.end());
    list.push_back(ps);
    while (static_cast<int64_t>(list.size()) > spec.checkpoint.keep) {
      fs::remove(list.front(), fs_ec);
      list.erase(list.begin());
    }
    SaveState(state_file, state);
  };
  auto read_events = [&]() {
    Status st = follower.Poll([&](StatusOr<protocol::Event> event, std::string_view line) {
      if (!event.ok()) {
        std::fprintf(stderr, "carbon-worker: %s: ignored a line that is not a protocol v1 event (%s): %.200s\n",
                     events_file.c_str(), event.status().message().c_str(), std::string(line).c_str());
        return;
      }
      if (auto* ep = std::get_if<protocol::Epoch>(&*event)) {
        reported = true;
        send_row(*ep, /*from_program=*/true);
      } else if (auto* cp = std::get_if<protocol::Checkpoint>(&*event)) {
        checkpointed = true;
        events.Send(*cp);
        KeepCheckpoints(cp->path);
      } else if (auto* pr = std::get_if<protocol::Progress>(&*event)) {
        events.Send(*pr);
      } else {
        std::fprintf(stderr, "carbon-worker: %s: '%s' is carbond's own event; a program reports epoch, "
                     "checkpoint and progress\n", events_file.c_str(), protocol::EventName(*event));
      }
    });
    if (!st.ok()) std::fprintf(stderr, "carbon-worker: %s\n", st.message().c_str());
  };

  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, top, 0));  // -1 before Linux 5.3: poll ignores it
  std::optional<int> top_status;
  std::optional<Clock::time_point> stop_sent;
  std::optional<std::string> over_memory;
  bool killed = false;
  bool out_open = true;
  char buf[65536];
  while (!top_status) {
    // The output pipe and the program's pidfd (readable once it exits, so
    // the end is seen at once, not at the next poll).
    struct pollfd pfds[2] = {{out_open ? out[0] : -1, POLLIN, 0}, {pidfd, POLLIN, 0}};
    int n = ::poll(pfds, 2, static_cast<int>(o.poll.count()));
    if (n > 0 && out_open && pfds[0].revents) {
      ssize_t r = ::read(out[0], buf, sizeof buf);
      if (r > 0) log.Write(buf, static_cast<size_t>(r));
      else if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) out_open = false;
    }
    ReapChildren(top, &top_status);
    read_events();
    const Clock::time_point now = Clock::now();
    if (stop.load() && !stop_sent) {
      std::fprintf(stderr, "carbon-worker: stop asked; sending SIG%s to %d (grace %s)\n", run.stop_signal.c_str(),
                   static_cast<int>(top), FormatDuration(run.stop_grace).c_str());
      ::kill(top, stop_signal);
      stop_sent = now;
    }
    if (stop_sent && !killed && now - *stop_sent >= run.stop_grace && !top_status) {
      std::fprintf(stderr, "carbon-worker: the program did not stop within %s; killing its tree\n",
                   FormatDuration(run.stop_grace).c_str());
      KillTree(top, &top_status, cgroup.get());
      killed = true;
    }
    if (!stop_sent && now - last_row >= run.report_every) {
      protocol::Epoch interval;
      send_row(interval, /*from_program=*/false);
    }
    if (now - last_rss >= std::chrono::seconds(1)) {
      const int64_t rss = tree_rss();
      peak_rss = std::max(peak_rss, rss);
      last_rss = now;
      if (o.memory_limit > 0 && rss > o.memory_limit && !over_memory) {
        over_memory = "the job's processes use " + std::to_string(rss >> 20) + " MiB of memory, over "
                      "worker.memory_limit " + std::to_string(o.memory_limit >> 20) + " MiB; killed";
        std::fprintf(stderr, "carbon-worker: %s\n", over_memory->c_str());
        KillTree(top, &top_status, cgroup.get());
      }
    }
  }
  // The top process ended: nothing of the job outlives it.
  KillTree(top, &top_status, cgroup.get());
  while (out_open) {
    ssize_t r = ::read(out[0], buf, sizeof buf);
    if (r > 0) log.Write(buf, static_cast<size_t>(r));
    else if (r == 0 || errno != EINTR) out_open = false;
  }
  ::close(out[0]);
  if (pidfd >= 0) ::close(pidfd);
  read_events();
  const int status = *top_status;
  const std::string how = DescribeStatus(status);
  const Clock::time_point ended = Clock::now();
  std::fprintf(stderr, "carbon-worker: the program %s after %.3f s", how.c_str(), Seconds(ended - began));
  if (stop_sent) std::fprintf(stderr, " (%.3f s after the stop signal)", Seconds(ended - *stop_sent));
  std::fprintf(stderr, "\n");

  if (over_memory) {
    events.Send(protocol::Failed{*over_memory, /*retryable=*/false});
    return protocol::ExitCode(WorkerExit::kOutOfMemory);
  }
  const bool asked = stop.load() || stop_sent.has_value();
  const bool resume = WIFEXITED(status) && WEXITSTATUS(status) == protocol::ExitCode(WorkerExit::kInterrupted);
  if (asked || resume) {
    // The energy since the last row goes into the next one.
    const energy::CarriedEnergy carried = meter.TakePartial();
    SaveCarried(carried_file, carried);
    std::fprintf(stderr, "carbon-worker: carried %.3f s (%.3g kWh) of energy since the last row into the next one\n",
                 carried.seconds, carried.cpu_kwh + carried.gpu_kwh + carried.ram_kwh);
    protocol::Interrupted in;
    in.epoch = state.rows;
    in.checkpointed = checkpointed;
    events.Send(in);
    return protocol::ExitCode(WorkerExit::kInterrupted);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    // The rest of the energy: all of it for a program that reports no
    // epochs; after a program's last epoch, where it is more than a moment.
    if (!reported || Clock::now() - last_row >= std::chrono::seconds(1)) {
      protocol::Epoch rest;
      send_row(rest, /*from_program=*/false);
    }
    protocol::Finished fin;
    fin.test_accuracy = last_accuracy.value_or(0);
    fin.best_accuracy = best_accuracy.value_or(0);
    fin.test_loss = last_loss.value_or(0);
    fin.epochs = state.rows;
    events.Send(fin);
    return protocol::ExitCode(WorkerExit::kOk);
  }
  const std::string tail = log.Tail(1500);
  if (!tail.empty()) std::fprintf(stderr, "carbon-worker: the program's last output:\n%s", tail.c_str());
  SaveCarried(carried_file, meter.TakePartial());  // the next attempt's first row keeps it
  events.Send(protocol::Failed{"the program " + how, /*retryable=*/true});
  return protocol::ExitCode(WorkerExit::kFailed);
}

}  // namespace carbon::worker

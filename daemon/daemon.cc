#include "daemon/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <spdlog/spdlog.h>

#include "common/config_reload.h"
#include "common/policy.h"
#include "common/time_util.h"
#include "daemon/http/api_router.h"
#include "daemon/http/event_hub.h"
#include "daemon/gpucap/gpucap_client.h"
#include "daemon/intensity/http_client.h"
#include "daemon/http/http_server.h"
#include "daemon/core/intensity_grid.h"
#include "daemon/core/intensity_service.h"
#include "daemon/intensity/make_sources.h"
#include "daemon/notifier.h"
#include "daemon/gpucap/power_cap.h"
#include "daemon/exec/local/process_executor.h"
#include "daemon/core/scheduler.h"
#include "daemon/exec/slurm/slurm_executor.h"
#include "daemon/store/sqlite_intensity_store.h"
#include "daemon/store/sqlite_job_store.h"

namespace carbon {

const char* const kCarbondVersion = CARBON_VERSION;

namespace asio = boost::asio;

namespace {

spdlog::level::level_enum LevelOf(const std::string& s) {
  return spdlog::level::from_str(s == "warn" ? "warning" : s);
}

HttpServerOptions ServerOptions(const Config& c) {
  HttpServerOptions o;
  o.socket_path = c.socket_path;
  o.socket_mode = c.socket_mode;
  o.max_header_bytes = static_cast<size_t>(c.max_header_bytes);
  o.max_body_bytes = static_cast<size_t>(c.max_body_bytes);
  o.read_timeout = c.read_timeout;
  o.max_connections = static_cast<size_t>(c.max_connections);
  o.tcp_listen = c.tcp_listen;
  return o;
}

SchedulerOptions SchedulerOptionsFrom(const Config& c) {
  SchedulerOptions o;
  o.max_concurrent_jobs = c.max_concurrent_jobs;
  o.max_attempts = c.max_attempts;
  o.runs_dir = c.RunsDir();
  o.data_roots = c.DataRoots();
  o.default_zone = c.default_zone;
  o.policy_defaults.max_wait = c.default_max_wait;
  o.policy_defaults.expected_duration = c.default_expected_duration;
  o.policy_defaults.duration_margin = c.duration_margin;
  o.site_switch_margin = c.site_switch_margin;
  o.policy_defaults.resume_overhead = c.default_resume_overhead;
  o.service_uid = ::geteuid();
  return o;
}

// What every worker is told, wherever it runs: the energy settings and the data roots.
std::vector<std::string> WorkerFlags(const Config& c) {
  std::vector<std::string> f = {"--pue", fmt::format("{}", c.energy.pue), "--measure-power-secs",
                                fmt::format("{}", c.energy.measure_power_secs), "--tracking-mode",
                                c.energy.tracking_mode};
  for (const auto& root : c.DataRoots()) f.insert(f.end(), {"--data-root", root});
  return f;
}

ProcessExecutorOptions ExecutorOptionsFrom(const Config& c, const std::string& worker) {
  ProcessExecutorOptions o;
  o.worker_path = worker;
  o.cancel_grace = c.cancel_grace;
  o.worker_flags = WorkerFlags(c);
  o.env_drop = {"CREDENTIALS_DIRECTORY"};
  if (!c.intensity.electricitymaps.token_env.empty()) o.env_drop.push_back(c.intensity.electricitymaps.token_env);
  o.memory_limit = c.memory_limit;
  o.event_transport = c.worker_events == "file" ? EventTransport::kFile : EventTransport::kSocketpair;
  o.gpus = c.gpus;
  return o;
}

// A Slurm site's executor settings: its commands, where the worker is on the
// compute nodes, and the same energy flags as local workers.
slurm::ExecutorOptions SlurmOptionsFrom(const Config& c, const SiteConfig& site) {
  slurm::ExecutorOptions o;
  o.site = site.name;
  o.client.conf = site.slurm.conf;
  o.client.bin_dir = site.slurm.bin_dir;
  o.client.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(site.slurm.command_timeout);
  o.partition = site.slurm.partition;
  o.sbatch_args = site.slurm.sbatch_args;
  o.worker_path = site.slurm.worker_path;
  o.worker_flags = WorkerFlags(c);
  o.poll = site.slurm.poll;
  o.cancel_grace = c.cancel_grace;
  return o;
}

IntensityServiceOptions IntensityOptionsFrom(const Config& c) {
  return {c.IntensityZones(), c.intensity.horizon, c.intensity.max_age, c.intensity.retention,
          c.intensity.plausible};
}

// SIGHUP: reads `path` again and applies what PlanReload (common/
// config_reload.h) says applies now, through `apply` (the new config and its
// resolved worker path); logs every change, and what needs a restart.
ReloadOutcome Reload(const std::string& path, Config& config,
                     const std::function<void(const Config&, const std::string& worker)>& apply) {
  ReloadOutcome out;
  out.at = SystemClock().Now();
  out.file = path.empty() ? "(built-in defaults)" : path;
  auto fresh = path.empty() ? StatusOr<Config>(Config{}) : LoadConfigFile(path);
  if (!fresh.ok()) {
    out.error = fresh.status().message();
    spdlog::error("SIGHUP: config not applied, keeping the running one:\n{}", out.error);
    return out;
  }
  ApplySystemdDirectories(*fresh);
  ReloadPlan plan = PlanReload(config, *fresh);
  auto worker = ResolveWorkerPath(plan.config.worker_path);
  if (!worker.ok()) {
    out.error = worker.status().message();
    spdlog::error("SIGHUP: config not applied: {}", out.error);
    return out;
  }
  config = plan.config;
  apply(config, *worker);
  for (const ConfigChange& c : plan.applied) spdlog::info("SIGHUP: applied {}", DescribeChange(c));
  for (const ConfigChange& c : plan.needs_restart) spdlog::warn("SIGHUP: needs a restart: {}", DescribeChange(c));
  spdlog::info("SIGHUP: configuration reloaded from {}: {} applied, {} need a restart", out.file,
               plan.applied.size(), plan.needs_restart.size());
  out.applied = std::move(plan.applied);
  out.needs_restart = std::move(plan.needs_restart);
  return out;
}

std::unique_ptr<Clock> MakeClock(const Config& c) {
  if (c.clock.mode == "virtual") {
    SystemClock real;
    Timestamp start = c.clock.start.value_or(real.Now());
    spdlog::info("virtual clock: starts at {}, speed x{}", FormatTime(start), c.clock.speed);
    return std::make_unique<VirtualClock>(start, c.clock.speed);
  }
  return std::make_unique<SystemClock>();
}

// What the event stream carries besides job state changes: worker progress
// and epochs, and each new intensity reading and forecast.
void ConnectEventStream(EventHub& events, Scheduler& scheduler, IntensityService& intensity,
                        IntensityStore& intensity_store, const Clock& clock) {
  scheduler.on_worker_event = [&events](int64_t id, const protocol::Event& event, const EpochRecord* epoch) {
    if (const auto* ep = std::get_if<protocol::Epoch>(&event); ep && epoch) {
      nlohmann::json e = api::EpochToJson(*epoch);
      e["job_id"] = id;
      e["epochs"] = ep->epochs;
      events.Publish("epoch", e, id);
    } else if (const auto* p = std::get_if<protocol::Progress>(&event)) {
      events.Publish("progress",
                     {{"job_id", id},
                      {"epoch", p->epoch},
                      {"epochs", p->epochs},
                      {"step", p->step},
                      {"steps", p->steps},
                      {"train_loss", p->train_loss}},
                     id);
    } else if (const auto* s = std::get_if<protocol::Started>(&event)) {
      // The worker is up: how many epochs, from where (a resumed run), on what.
      events.Publish("progress",
                     {{"job_id", id},
                      {"epoch", s->resumed_epoch},
                      {"epochs", s->epochs},
                      {"step", s->resumed_step},
                      {"steps", 0},
                      {"device", s->device},
                      {"precision", s->precision}},
                     id);
    }
  };
  // zone -> (reading, forecast) last sent
  auto published = std::make_shared<std::map<std::string, std::pair<std::string, std::string>>>();
  intensity.on_update = [&events, &intensity_store, &clock, published](const ZoneIntensity& z) {
    auto& last = (*published)[z.zone];
    if (z.current) {
      nlohmann::json r = api::IntensityPointToJson(z.current->point);
      r["zone"] = z.zone;
      r["source"] = z.current->source;
      r["fallback"] = z.fallback;
      r["reason"] = z.reason;
      std::string key = api::JsonText(r);
      if (key != last.first) {
        last.first = key;
        events.Publish("intensity", r);
      }
    }
    if (z.forecast_issued_at) {
      std::string key = FormatTime(*z.forecast_issued_at) + z.forecast_source;
      auto fc = intensity_store.LatestForecast(z.zone, clock.Now());
      if (key != last.second && fc.ok() && *fc) {
        last.second = key;
        nlohmann::json pts = nlohmann::json::array();
        for (const IntensityPoint& p : (*fc)->points) pts.push_back(api::IntensityPointToJson(p));
        events.Publish("forecast", {{"zone", z.zone},
                                    {"source", (*fc)->source},
                                    {"issued_at", FormatTime((*fc)->issued_at)},
                                    {"reason", z.forecast_reason},
                                    {"points", pts}});
      }
    }
  };
}

// A timer that runs `what` every interval() until Cancel(). The interval is
// asked for each time, so a reload's new value applies from the next run.
class Periodic {
 public:
  Periodic(asio::io_context& io, std::function<std::chrono::nanoseconds()> interval, std::function<void()> what)
      : timer_(io), interval_(std::move(interval)), what_(std::move(what)) {}
  // `now`: run once at once, then every interval.
  void Start(bool now) {
    if (now) what_();
    Arm();
  }
  void Cancel() {
    cancelled_ = true;
    timer_.cancel();
  }

 private:
  void Arm() {
    if (cancelled_) return;
    timer_.expires_after(interval_());
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || cancelled_) return;
      what_();
      Arm();
    });
  }
  asio::steady_timer timer_;
  std::function<std::chrono::nanoseconds()> interval_;
  std::function<void()> what_;
  bool cancelled_ = false;
};

// carbond: its parts, built in order by Run() (each needs the ones before),
// and the loops, signals and callbacks between them. Everything runs on the
// one io_context thread.
class Daemon {
 public:
  Daemon(Config config, std::string config_path) : config_(std::move(config)), config_path_(std::move(config_path)) {}

  int Run() {
    spdlog::set_level(LevelOf(config_.log_level));
    ::signal(SIGPIPE, SIG_IGN);
    if (Status st = Open(); !st.ok()) {
      spdlog::critical("{}", st.message());
      notifier_.Status(st.message());
      return 1;
    }
    // Signals are caught from before the socket is listening: a SIGHUP or
    // SIGTERM sent as soon as the socket answers is queued, never fatal.
    WaitForSignal();
    if (Status st = server_->Listen(); !st.ok()) {
      spdlog::critical("{}", st.message());
      return 1;
    }
    if (std::string tcp = server_->tcp_endpoint(); !tcp.empty()) {
      router_->set_tcp_endpoint(tcp);
      spdlog::info("dashboard and read-only API on http://{}/ (api.tcp_listen)", tcp);
    }
    StartLoops();
    spdlog::info("carbond {} ready: socket {}, database {}, worker {}", kCarbondVersion, config_.socket_path,
                 config_.DatabasePath(), worker_);
    notifier_.Ready();
    notifier_.Status("serving on " + config_.socket_path);
    io_.run();
    if (Status st = scheduler_->SavePlans(); !st.ok())
      spdlog::warn("cannot store the waiting jobs' live plans (they are decided again at start-up): {}",
                   st.ToString());
    spdlog::info("carbond stopped");
    return 0;
  }

 private:
  // The state directory and its lock, the database (recovered), the worker,
  // the clock, the executor and scheduler, the intensity service, the API.
  Status Open() {
    std::error_code fec;
    std::filesystem::create_directories(config_.state_dir, fec);
    if (fec) return Unavailable("cannot create state_dir " + config_.state_dir + ": " + fec.message());
    std::filesystem::create_directories(config_.RunsDir(), fec);
    RETURN_IF_ERROR(LockStateDir());
    auto store = SqliteJobStore::Open(config_.DatabasePath());
    if (!store.ok()) return Unavailable("cannot open database: " + store.status().message());
    store_ = std::move(*store);
    auto worker = ResolveWorkerPath(config_.worker_path);
    if (!worker.ok()) return worker.status();
    worker_ = *worker;
    clock_ = MakeClock(config_);

    RETURN_IF_ERROR(MakeSites());
    if (Status st = scheduler_->Recover(); !st.ok()) return Internal("recovery failed: " + st.ToString());

    // Grid intensity: the chain of sources, polled on timers of the
    // scheduler's clock (a virtual clock polls faster in real time).
    http_ = std::make_unique<HttpClient>(io_, HttpOptionsFrom(config_.intensity.http));
    auto sources = MakeIntensitySources(config_.intensity, *http_);
    if (!sources.ok()) return sources.status();
    intensity_store_ = std::make_unique<SqliteIntensityStore>(store_->db());
    intensity_ = std::make_unique<IntensityService>(std::move(*sources), *intensity_store_, *clock_,
                                                    IntensityOptionsFrom(config_));
    grid_ = std::make_unique<IntensityGrid>(*intensity_, *intensity_store_, *clock_);
    scheduler_->set_grid(grid_.get());

    router_ = std::make_unique<ApiRouter>(*scheduler_, *store_, RouterInfo{kCarbondVersion, config_.DatabasePath()});
    router_->set_intensity(intensity_.get(), intensity_store_.get(), clock_.get());
    // The event stream (GET /v1/events): jobs, worker progress and epochs,
    // intensity readings and forecasts as they come.
    router_->set_events(&events_);
    ConnectEventStream(events_, *scheduler_, *intensity_, *intensity_store_, *clock_);
    server_ = std::make_unique<HttpServer>(io_, ServerOptions(config_),
                                           [this](const api::Request& r, HttpServer::Reply reply) {
                                             router_->Handle(r, std::move(reply));
                                           });
    // Group commit: submissions that arrive together share one durable commit.
    scheduler_->set_flush_hook([this] { asio::post(io_, [this] { scheduler_->FlushSubmits(); }); });
    scheduler_->on_change = [this](const JobRecord& job) { OnJobChange(job); };

    // carbon.gpu_power_cap through carbond-gpucap. No local worker outlived
    // the previous carbond, so every limit it left lowered goes back now.
    capper_ = std::make_unique<PowerCapper>(
        [this](const nlohmann::json& request) { return gpucap::Call(config_.gpu_cap_socket, request); });
    // Where carbond hands out no GPUs, a worker has carbond's CUDA_VISIBLE_DEVICES (unset: every GPU).
    if (const char* v = std::getenv("CUDA_VISIBLE_DEVICES"); v && *v) {
      std::istringstream items(v);
      for (std::string item; std::getline(items, item, ',');)
        if (!item.empty()) env_gpus_.push_back(item);
    }
    std::error_code ec;
    if (std::filesystem::exists(config_.gpu_cap_socket, ec)) {
      if (Status st = capper_->RestoreAll(); !st.ok())
        spdlog::warn("cannot restore GPU power limits at start-up ({}): {}", config_.gpu_cap_socket, st.message());
    }
    return Status();
  }

  // carbon.gpu_power_cap: the running local jobs that ask for one, with
  // their zone's intensity now, to the capper; the reasons it changes.
  // Each job is read and its spec parsed once, when its worker is first seen.
  // Called at every tick and from each local worker's start gate.
  void CapGpus() {
    std::map<int64_t, std::optional<CapJob>> seen;
    std::vector<CapJob> capped;
    for (ProcessExecutor* e : local_executors_)
      for (int64_t id : e->RunningJobs()) {
        auto known = cap_jobs_.find(id);
        seen[id] = known != cap_jobs_.end() ? known->second : CapJobOf(id);
        auto w = e->Worker(id);
        if (!seen[id] || !w) continue;
        CapJob c = *seen[id];
        c.pid = w->pid;
        c.gpus = w->gpus.empty() ? env_gpus_ : w->gpus;
        if (const ZoneIntensity* z = intensity_->Zone(c.zone); z && z->current)
          c.gco2_per_kwh = z->current->point.gco2_per_kwh;
        capped.push_back(std::move(c));
      }
    cap_jobs_ = std::move(seen);  // jobs that ended drop out
    if (capped.empty() && capper_->idle()) return;
    for (const auto& [id, note] : capper_->Apply(capped)) scheduler_->OnSiteNote(id, note);
  }

  // A running job's cap and zone, and the GPUs it has where carbond hands
  // none out; empty when it asks for no cap.
  std::optional<CapJob> CapJobOf(int64_t id) {
    auto job = store_->Get(id);
    if (!job.ok()) return std::nullopt;
    auto spec = ParseJobSpec(job->spec_text, "job " + std::to_string(id));
    if (!spec.ok() || !spec->carbon.gpu_power_cap) return std::nullopt;
    CapJob c;
    c.id = id;
    c.cap = *spec->carbon.gpu_power_cap;
    c.zone = scheduler_->ZoneOf(*spec, job->site);
    return c;
  }

  // The scheduler and one executor per site (carbond.yaml's sites, or the
  // default local site): a pool of local workers, or a Slurm cluster.
  Status MakeSites() {
    std::vector<Site> sites;
    for (const SiteConfig& sc : config_.Sites()) {
      Site site{sc.name, nullptr, sc.zone, config_.sites.empty() ? -1 : sc.slots, ""};
      if (sc.executor == "slurm") {
        std::error_code ec;
        std::filesystem::create_directories(sc.slurm.run_root, ec);
        if (ec)
          return Unavailable("site " + sc.name + ": cannot create slurm.run_root " + sc.slurm.run_root + ": " +
                             ec.message());
        auto e = std::make_unique<slurm::Executor>(io_, SlurmOptionsFrom(config_, sc));
        site.executor = e.get();
        site.runs_dir = sc.slurm.run_root;
        slurm_executors_.push_back(e.get());
        executors_.push_back(std::move(e));
      } else {
        auto e = std::make_unique<ProcessExecutor>(io_, ExecutorOptionsFrom(config_, worker_));
        // A job's GPU power cap is set before its worker's first step (and
        // first step after each resume), not at the next tick.
        e->set_before_training([this](int64_t) {
          if (capper_) CapGpus();
        });
        site.executor = e.get();
        local_executors_.push_back(e.get());
        executors_.push_back(std::move(e));
      }
      sites.push_back(site);
    }
    scheduler_ = std::make_unique<Scheduler>(*store_, *sites.front().executor, policies_, *clock_,
                                             SchedulerOptionsFrom(config_));
    scheduler_->set_sites(sites);
    for (auto& e : executors_) e->SetListener(scheduler_.get());
    for (const SiteConfig& sc : config_.Sites())
      spdlog::info("site {}: {} executor, zone {}, {} slots{}", sc.name, sc.executor,
                   sc.zone.empty() ? config_.default_zone : sc.zone,
                   config_.sites.empty() ? config_.max_concurrent_jobs : sc.slots,
                   sc.executor == "slurm" ? ", runs in " + sc.slurm.run_root : "");
    return Status();
  }

  // One carbond per state directory: a second one must not recover (requeue)
  // the jobs that the first is running. The lock lives as long as the process.
  Status LockStateDir() {
    const std::string lock_path = config_.state_dir + "/carbond.lock";
    int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)  // read-only file system, permissions: say so, not "another carbond"
      return Unavailable("cannot open " + lock_path + " in state_dir " + config_.state_dir + ": " +
                         std::strerror(errno) + "; carbond needs a writable state directory");
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      char buf[32] = {};
      ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
      std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
      ::close(fd);
      return FailedPrecondition("another carbond" + (holder.empty() ? "" : " (pid " + holder + ")") +
                                " already uses state_dir " + config_.state_dir + " (lock " + lock_path +
                                "); stop it first");
    }
    if (std::string pid = std::to_string(::getpid());
        ::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
      // Only the pid shown to a second carbond is lost; the lock itself holds.
      spdlog::warn("cannot write carbond's pid into {}: {}", lock_path, std::strerror(errno));
    }
    return Status();  // fd stays open (and locked) until the process exits
  }

  // The five loops: the scheduler's tick, the event stream's heartbeat, the
  // intensity polls (forecast first, so a failing first source can fall back
  // to one) and pruning, and systemd's watchdog.
  void StartLoops() {
    auto real = [](Duration d) { return std::chrono::duration_cast<std::chrono::nanoseconds>(d); };
    auto on_clock = [this](std::function<Duration()> d) {
      return [this, d] { return clock_->RealDuration(d()); };
    };
    tick_ = Loop([this, real] { return real(config_.tick); }, [this] {
      RunTick();
      CapGpus();
      SkipIdle();
    });
    // Event-stream clients get a comment every 15 s: idle proxies keep the
    // connection, and a peer that went away is noticed and dropped.
    heartbeat_ = Loop([] { return std::chrono::seconds(15); }, [this] { events_.Heartbeat(); });
    forecast_ = Loop(on_clock([this] { return config_.intensity.forecast_poll; }),
                     [this] { intensity_->PollForecast(); });
    current_ = Loop(on_clock([this] { return config_.intensity.poll; }), [this] { intensity_->PollCurrent(); });
    prune_ = Loop(on_clock([] { return Duration(std::chrono::hours(6)); }), [this] { intensity_->Prune(); });
    for (Periodic* p : {tick_, heartbeat_, forecast_, current_, prune_}) p->Start(/*now=*/p != heartbeat_);
    if (auto interval = notifier_.WatchdogInterval()) {
      watchdog_ = Loop([half = *interval / 2] { return half; }, [this] { notifier_.Watchdog(); });
      watchdog_->Start(/*now=*/false);
    }
  }

  Periodic* Loop(std::function<std::chrono::nanoseconds()> interval, std::function<void()> what) {
    loops_.push_back(std::make_unique<Periodic>(io_, std::move(interval), std::move(what)));
    return loops_.back().get();
  }

  // clock.skip_idle: while no worker runs and jobs wait for a planned start,
  // the virtual clock jumps there; intensity is polled at the new time before
  // the next tick releases them.
  void SkipIdle() {
    auto* virtual_clock = config_.clock.skip_idle ? dynamic_cast<VirtualClock*>(clock_.get()) : nullptr;
    if (!virtual_clock || scheduler_->RunningCount() > 0 || scheduler_->draining()) return;
    auto next = scheduler_->NextPlannedStart();
    if (!next) return;
    Duration skipped = virtual_clock->SkipTo(*next);
    if (skipped <= Duration(0)) return;
    spdlog::info("clock.skip_idle: no job runs; skipped {} to the next planned start, {}", FormatDuration(skipped),
                 FormatTime(*next));
    intensity_->PollForecast();
    intensity_->PollCurrent();
  }

  // Ticks soon after a change that may free or fill a slot; many changes in
  // a burst (a flood of submits) share one tick.
  void OnJobChange(const JobRecord& job) {
    spdlog::debug("job {} is {}: {}", job.id, JobStateName(job.state), job.reason);
    events_.Publish("job", router_->JobJson(job, false), job.id);
    bool slot_free = scheduler_->SlotFree();
    bool may_release = (job.state == JobState::kQueued || job.state == JobState::kWaiting) && slot_free;
    if ((may_release || IsFinal(job.state)) && !tick_posted_) {
      tick_posted_ = true;
      asio::post(io_, [this] {
        tick_posted_ = false;
        RunTick();
      });
    }
  }

  // One tick; while waiting jobs are due that its slice left undecided, the
  // next slice runs after a short gap in which the loop serves whatever
  // arrived (a request takes several turns of the loop: a slice posted
  // straight behind would sit between each of them).
  void RunTick() {
    scheduler_->Tick();
    if (scheduler_->HasDueWork() && !slice_pending_) {
      slice_pending_ = true;
      slice_timer_.expires_after(kSliceGap);
      slice_timer_.async_wait([this](const boost::system::error_code& ec) {
        slice_pending_ = false;
        if (!ec) RunTick();
      });
    }
  }
  static constexpr std::chrono::microseconds kSliceGap{500};

  void WaitForSignal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig != SIGHUP) return BeginDrain(sig);
      notifier_.Reloading();
      router_->set_last_reload(Reload(config_path_, config_, [this](const Config& c, const std::string& w) {
        worker_ = w;
        scheduler_->set_options(SchedulerOptionsFrom(c));
        for (ProcessExecutor* e : local_executors_) e->set_options(ExecutorOptionsFrom(c, w));
        for (slurm::Executor* e : slurm_executors_) e->Reload(c.cancel_grace, WorkerFlags(c));
        server_->set_limits(ServerOptions(c));
        intensity_->set_options(IntensityOptionsFrom(c));
        spdlog::set_level(LevelOf(c.log_level));
      }));
      notifier_.Ready();
      WaitForSignal();
    });
  }

  // SIGTERM/SIGINT: no new connections, workers asked to checkpoint and
  // stop; the loop ends when they have (or cancel_grace + 5 s have passed).
  void BeginDrain(int sig) {
    spdlog::info("{}: draining (no new connections; asking workers to checkpoint)",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT");
    notifier_.Stopping();
    server_->Stop();
    for (auto& loop : loops_)
      if (loop.get() != watchdog_) loop->Cancel();  // systemd still hears from a draining carbond
    scheduler_->BeginDrain();
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(config_.cancel_grace) +
                          std::chrono::seconds(5);
    Loop([] { return std::chrono::milliseconds(50); },
         [this, deadline] {
           if (!scheduler_->Drained() && std::chrono::steady_clock::now() <= deadline) return;
           if (!scheduler_->Drained()) spdlog::warn("workers still running at the drain deadline");
           io_.stop();
         })
        ->Start(/*now=*/true);
  }

  Config config_;
  const std::string config_path_;
  SystemdNotifier notifier_;
  asio::io_context io_{1};
  asio::signal_set signals_{io_, SIGTERM, SIGINT, SIGHUP};
  std::unique_ptr<SqliteJobStore> store_;
  std::string worker_;
  std::unique_ptr<Clock> clock_;
  std::vector<std::unique_ptr<Executor>> executors_;  // one per site
  std::vector<ProcessExecutor*> local_executors_;
  std::vector<slurm::Executor*> slurm_executors_;
  std::unique_ptr<PowerCapper> capper_;
  std::map<int64_t, std::optional<CapJob>> cap_jobs_;  // running local jobs: their cap, if any
  std::vector<std::string> env_gpus_;                  // carbond's CUDA_VISIBLE_DEVICES
  PolicyRegistry policies_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<SqliteIntensityStore> intensity_store_;
  std::unique_ptr<IntensityService> intensity_;
  std::unique_ptr<IntensityGrid> grid_;
  EventHub events_;
  std::unique_ptr<ApiRouter> router_;
  std::unique_ptr<HttpServer> server_;
  std::vector<std::unique_ptr<Periodic>> loops_;
  Periodic *tick_ = nullptr, *heartbeat_ = nullptr, *forecast_ = nullptr, *current_ = nullptr, *prune_ = nullptr,
           *watchdog_ = nullptr;
  bool tick_posted_ = false;
  asio::steady_timer slice_timer_{io_};  // the next slice of a tick (RunTick)
  bool slice_pending_ = false;
};

}  // namespace

int RunDaemon(Config config, const std::string& config_path) {
  return Daemon(std::move(config), config_path).Run();
}

}  // namespace carbon

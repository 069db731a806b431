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
#include <memory>
#include <spdlog/spdlog.h>

#include "common/config_reload.h"
#include "common/policy.h"
#include "common/time_util.h"
#include "daemon/api_router.h"
#include "daemon/event_hub.h"
#include "daemon/http_client.h"
#include "daemon/http_server.h"
#include "daemon/intensity/intensity_grid.h"
#include "daemon/intensity/intensity_service.h"
#include "daemon/intensity/make_sources.h"
#include "daemon/notifier.h"
#include "daemon/process_executor.h"
#include "daemon/scheduler.h"
#include "daemon/sqlite/sqlite_intensity_store.h"
#include "daemon/sqlite/sqlite_job_store.h"

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
  return o;
}

ProcessExecutorOptions ExecutorOptionsFrom(const Config& c, const std::string& worker) {
  ProcessExecutorOptions o;
  o.worker_path = worker;
  o.cancel_grace = c.cancel_grace;
  o.worker_flags = {"--pue", fmt::format("{}", c.energy.pue), "--measure-power-secs",
                    fmt::format("{}", c.energy.measure_power_secs)};
  for (const auto& root : c.DataRoots()) o.worker_flags.insert(o.worker_flags.end(), {"--data-root", root});
  o.env_drop = {"CREDENTIALS_DIRECTORY"};
  if (!c.intensity.electricitymaps.token_env.empty()) o.env_drop.push_back(c.intensity.electricitymaps.token_env);
  o.memory_limit = c.memory_limit;
  o.event_transport = c.worker_events == "file" ? EventTransport::kFile : EventTransport::kSocketpair;
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

}  // namespace

int RunDaemon(Config config, const std::string& config_path) {
  spdlog::set_level(LevelOf(config.log_level));
  ::signal(SIGPIPE, SIG_IGN);
  SystemdNotifier notifier;

  std::error_code fec;
  std::filesystem::create_directories(config.state_dir, fec);
  if (fec) {
    spdlog::critical("cannot create state_dir {}: {}", config.state_dir, fec.message());
    return 1;
  }
  std::filesystem::create_directories(config.RunsDir(), fec);

  // One carbond per state directory: a second one must not recover (requeue)
  // the jobs that the first is running. The lock lives as long as the process.
  const std::string lock_path = config.state_dir + "/carbond.lock";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (lock_fd < 0) {
    // Read-only file system, permissions: say so, not "another carbond".
    spdlog::critical("cannot open {} in state_dir {}: {}; carbond needs a writable state directory", lock_path,
                     config.state_dir, std::strerror(errno));
    return 1;
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    std::string holder;
    {
      char buf[32] = {};
      ssize_t n = ::pread(lock_fd, buf, sizeof buf - 1, 0);
      if (n > 0) holder = std::string(buf, static_cast<size_t>(n));
    }
    spdlog::critical("another carbond{} already uses state_dir {} (lock {}); stop it first",
                     holder.empty() ? "" : " (pid " + holder + ")", config.state_dir, lock_path);
    return 1;
  }
  if (std::string pid = std::to_string(::getpid());
      ::ftruncate(lock_fd, 0) != 0 || ::pwrite(lock_fd, pid.data(), pid.size(), 0) < 0) {
    // Only the pid shown to a second carbond is lost; the lock itself holds.
    spdlog::warn("cannot write carbond's pid into {}: {}", lock_path, std::strerror(errno));
  }

  auto store = SqliteJobStore::Open(config.DatabasePath());
  if (!store.ok()) {
    spdlog::critical("{}", store.status().message());
    notifier.Status("cannot open database: " + store.status().message());
    return 1;
  }
  auto worker = ResolveWorkerPath(config.worker_path);
  if (!worker.ok()) {
    spdlog::critical("{}", worker.status().message());
    return 1;
  }
  std::unique_ptr<Clock> clock = MakeClock(config);

  asio::io_context io(1);
  ProcessExecutor executor(io, ExecutorOptionsFrom(config, *worker));
  PolicyRegistry policies;
  SchedulerOptions so = SchedulerOptionsFrom(config);
  Scheduler scheduler(**store, executor, policies, *clock, so);
  executor.SetListener(&scheduler);
  if (Status st = scheduler.Recover(); !st.ok()) {
    spdlog::critical("recovery failed: {}", st.ToString());
    return 1;
  }

  // Grid intensity: the chain of sources, polled on timers of the
  // scheduler's clock (a virtual clock polls faster in real time).
  HttpClient http(io, HttpOptionsFrom(config.intensity.http));
  auto sources = MakeIntensitySources(config.intensity, http);
  if (!sources.ok()) {
    spdlog::critical("{}", sources.status().message());
    return 1;
  }
  SqliteIntensityStore intensity_store((*store)->db());
  IntensityService intensity(std::move(*sources), intensity_store, *clock,
                             IntensityOptionsFrom(config));

  IntensityGrid grid(intensity, intensity_store, *clock);
  scheduler.set_grid(&grid);

  ApiRouter router(scheduler, **store, {kCarbondVersion, config.DatabasePath()});
  router.set_intensity(&intensity, &intensity_store, clock.get());
  // The event stream (GET /v1/events): jobs, worker progress and epochs,
  // intensity readings and forecasts as they come.
  EventHub events;
  router.set_events(&events);
  ConnectEventStream(events, scheduler, intensity, intensity_store, *clock);
  HttpServer server(io, ServerOptions(config),
                    [&router](const api::Request& r, HttpServer::Reply reply) {
                      router.Handle(r, std::move(reply));
                    });
  // Group commit: submissions that arrive together share one durable commit.
  scheduler.set_flush_hook([&] { asio::post(io, [&] { scheduler.FlushSubmits(); }); });
  // Signals are caught from before the socket is listening: a SIGHUP or
  // SIGTERM sent as soon as the socket answers is queued, never fatal.
  asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  if (Status st = server.Listen(); !st.ok()) {
    spdlog::critical("{}", st.message());
    return 1;
  }
  if (std::string tcp = server.tcp_endpoint(); !tcp.empty()) {
    router.set_tcp_endpoint(tcp);
    spdlog::info("dashboard and read-only API on http://{}/ (api.tcp_listen)", tcp);
  }
  // Event-stream clients get a comment every 15 s: idle proxies keep the
  // connection, and a peer that went away is noticed and dropped.
  asio::steady_timer heartbeat(io);
  std::function<void()> schedule_heartbeat = [&] {
    heartbeat.expires_after(std::chrono::seconds(15));
    heartbeat.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      events.Heartbeat();
      schedule_heartbeat();
    });
  };
  schedule_heartbeat();

  // The scheduler's heartbeat.
  asio::steady_timer tick(io);
  // clock.skip_idle: while no worker runs and jobs wait for a planned
  // start, the virtual clock jumps there; intensity is polled at the new time
  // before the next tick releases them.
  auto* virtual_clock = config.clock.skip_idle ? dynamic_cast<VirtualClock*>(clock.get()) : nullptr;
  std::function<void()> skip_idle = [&] {
    if (!virtual_clock || executor.RunningCount() > 0 || scheduler.draining()) return;
    auto next = scheduler.NextPlannedStart();
    if (!next) return;
    Duration skipped = virtual_clock->SkipTo(*next);
    if (skipped <= Duration(0)) return;
    spdlog::info("clock.skip_idle: no job runs; skipped {} to the next planned start, {}", FormatDuration(skipped),
                 FormatTime(*next));
    intensity.PollForecast();
    intensity.PollCurrent();
  };
  std::function<void()> schedule_tick = [&] {
    tick.expires_after(config.tick);
    tick.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      scheduler.Tick();
      skip_idle();
      schedule_tick();
    });
  };
  scheduler.Tick();
  schedule_tick();

  // Tick soon after a change that may free or fill a slot; many changes in a
  // burst (a flood of submits) share one tick.
  bool tick_posted = false;
  scheduler.on_change = [&](const JobRecord& job) {
    spdlog::debug("job {} is {}: {}", job.id, JobStateName(job.state), job.reason);
    events.Publish("job", router.JobJson(job, false), job.id);
    bool slot_free =
        static_cast<int64_t>(executor.RunningCount()) < scheduler.options().max_concurrent_jobs;
    bool may_release = (job.state == JobState::kQueued || job.state == JobState::kWaiting) && slot_free;
    if ((may_release || IsFinal(job.state)) && !tick_posted) {
      tick_posted = true;
      asio::post(io, [&] {
        tick_posted = false;
        scheduler.Tick();
      });
    }
  };

  // Polls: forecasts first, so a failing first source can fall back to one.
  auto every = [&](asio::steady_timer& timer, std::function<Duration()> interval, std::function<void()> what) {
    auto loop = std::make_shared<std::function<void()>>();
    *loop = [&timer, interval, what, loop_weak = std::weak_ptr<std::function<void()>>(loop), &clk = *clock] {
      timer.expires_after(std::chrono::duration_cast<asio::steady_timer::duration>(clk.RealDuration(interval())));
      timer.async_wait([what, loop_weak](const boost::system::error_code& ec) {
        if (ec) return;
        what();
        if (auto l = loop_weak.lock()) (*l)();
      });
    };
    what();
    (*loop)();
    return loop;
  };
  asio::steady_timer forecast_timer(io), current_timer(io), prune_timer(io);
  auto forecast_loop = every(forecast_timer, [&] { return config.intensity.forecast_poll; },
                             [&] { intensity.PollForecast(); });
  auto current_loop = every(current_timer, [&] { return config.intensity.poll; },
                            [&] { intensity.PollCurrent(); });
  auto prune_loop = every(prune_timer, [] { return Duration(std::chrono::hours(6)); },
                          [&] { intensity.Prune(); });

  asio::steady_timer watchdog(io);
  std::function<void()> schedule_watchdog;
  if (auto interval = notifier.WatchdogInterval()) {
    schedule_watchdog = [&, half = *interval / 2] {
      watchdog.expires_after(half);
      watchdog.async_wait([&](const boost::system::error_code& ec) {
        if (ec) return;
        notifier.Watchdog();
        schedule_watchdog();
      });
    };
    schedule_watchdog();
  }

  asio::steady_timer drain_timer(io);
  std::chrono::steady_clock::time_point drain_deadline;
  std::function<void()> wait_drained = [&] {
    if (scheduler.Drained() || std::chrono::steady_clock::now() > drain_deadline) {
      if (!scheduler.Drained()) spdlog::warn("workers still running at the drain deadline");
      io.stop();
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(50));
    drain_timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) wait_drained();
    });
  };

  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        notifier.Reloading();
        router.set_last_reload(Reload(config_path, config, [&](const Config& c, const std::string& w) {
          scheduler.set_options(SchedulerOptionsFrom(c));
          executor.set_options(ExecutorOptionsFrom(c, w));
          server.set_limits(ServerOptions(c));
          intensity.set_options(IntensityOptionsFrom(c));
          spdlog::set_level(LevelOf(c.log_level));
        }));
        notifier.Ready();
        wait_signal();
        return;
      }
      spdlog::info("{}: draining (no new connections; asking workers to checkpoint)",
                   sig == SIGTERM ? "SIGTERM" : "SIGINT");
      notifier.Stopping();
      server.Stop();
      heartbeat.cancel();
      scheduler.BeginDrain();
      tick.cancel();
      forecast_timer.cancel();
      current_timer.cancel();
      prune_timer.cancel();
      drain_deadline = std::chrono::steady_clock::now() +
                       std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           config.cancel_grace) +
                       std::chrono::seconds(5);
      wait_drained();
    });
  };
  wait_signal();

  spdlog::info("carbond {} ready: socket {}, database {}, worker {}", kCarbondVersion,
               config.socket_path, config.DatabasePath(), *worker);
  notifier.Ready();
  notifier.Status("serving on " + config.socket_path);
  io.run();
  spdlog::info("carbond stopped");
  return 0;
}

}  // namespace carbon

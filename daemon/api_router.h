// ApiRouter: the HTTP API v1 (proto-less-api/openapi.yaml) on top of the
// scheduler and the store. Pure request -> response; the Beast server adapter
// does the I/O. Runs on the event-loop thread.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "common/config_reload.h"
#include "daemon/event_hub.h"
#include "daemon/intensity/intensity_service.h"
#include "daemon/intensity_store.h"
#include "daemon/job_store.h"
#include "daemon/metrics.h"
#include "daemon/scheduler.h"
#include "proto-less-api/api.h"

namespace carbon {

struct RouterInfo {
  std::string version;
  std::string database_path;
};

class ApiRouter {
 public:
  using Reply = std::function<void(api::Response)>;

  ApiRouter(Scheduler& scheduler, JobStore& store, RouterInfo info);
  // Answers through `reply`: at once for most routes, after the group commit
  // for a submission.
  void Handle(const api::Request& request, Reply reply);
  // Synchronous form (tests): flushes pending submissions before returning.
  api::Response Handle(const api::Request& request);
  // Enables /v1/intensity*; all three must outlive the router.
  void set_intensity(IntensityService* service, IntensityStore* store, Clock* clock) {
    intensity_ = service;
    intensity_store_ = store;
    clock_ = clock;
  }
  // A job as the API shows it: the record, and the end of its planned window.
  nlohmann::json JobJson(const JobRecord& job, bool with_spec) const;
  // Enables GET /v1/events; must outlive the router.
  void set_events(EventHub* hub) { events_ = hub; }
  // Shown by /v1/health: where the optional TCP listener is bound.
  void set_tcp_endpoint(std::string endpoint) { tcp_endpoint_ = std::move(endpoint); }
  // The last SIGHUP's outcome, shown by GET /v1/health.
  void set_last_reload(ReloadOutcome r) { last_reload_ = std::move(r); }

 private:
  api::Response Route(const api::Request& r, const api::Target& t);
  void Submit(const api::Request& r, const api::Target& t, Reply reply);
  api::Response List(const api::Target& t);
  api::Response Get(int64_t id);
  api::Response Cancel(int64_t id, uint32_t uid);
  // GET /v1/compare?candidate=ID[&baseline=ID] (common/compare.h).
  api::Response Compare(const api::Target& t);
  StatusOr<RunSummary> Summary(const JobRecord& job);
  // GET /v1/jobs/{id}/emissions?format=json|csv: CodeCarbon's rows.
  api::Response Emissions(int64_t id, const api::Target& t);
  api::Response Health();
  // GET /v1/events: Server-Sent Events (daemon/event_hub.h).
  api::Response Events(const api::Request& r, const api::Target& t);
  // GET /v1/totals?days=14&weeks=8: energy, CO2 and CO2 saved per day and week.
  api::Response Totals(const api::Target& t);
  // GET /: the live dashboard (daemon/dashboard/index.html).
  api::Response Dashboard();
  Timestamp Now() const;
  // GET /metrics: Prometheus text format (daemon/metrics.h).
  api::Response Metrics();
  api::Response Intensity(const api::Target& t);
  api::Response IntensityForecast(const api::Target& t);
  api::Response IntensityHistory(const api::Target& t);
  // The zone named by ?zone=, else the first polled zone; errors when unknown.
  StatusOr<std::string> ZoneParam(const api::Target& t) const;

  Scheduler& scheduler_;
  JobStore& store_;
  RouterInfo info_;
  IntensityService* intensity_ = nullptr;
  IntensityStore* intensity_store_ = nullptr;
  Clock* clock_ = nullptr;
  EventHub* events_ = nullptr;
  std::string tcp_endpoint_;
  std::optional<ReloadOutcome> last_reload_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  metrics::ApiMetrics api_metrics_;
};

}  // namespace carbon

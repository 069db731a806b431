// ApiRouter: the HTTP API v1 (proto-less-api/openapi.yaml) on top of the
// scheduler and the store. Pure request -> response; the Beast server adapter
// does the I/O. Runs on the event-loop thread.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "common/config_reload.h"
#include "daemon/http/event_hub.h"
#include "daemon/core/intensity_service.h"
#include "daemon/core/intensity_store.h"
#include "daemon/core/job_store.h"
#include "daemon/http/metrics.h"
#include "daemon/core/scheduler.h"
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
  // Every route as "METHOD PATTERN" ("POST /v1/jobs/{id}/cancel"), in the
  // table's order (proto-less-api/openapi.yaml documents each).
  std::vector<std::string> Routes() const {
    std::vector<std::string> out;
    for (const Route& r : routes_) out.push_back(r.method + " " + r.pattern);
    return out;
  }
  // The last SIGHUP's outcome, shown by GET /v1/health.
  void set_last_reload(ReloadOutcome r) { last_reload_ = std::move(r); }

 private:
  // One request as a handler sees it: `id` is the {id} of its path, if any.
  struct Call {
    const api::Request& request;
    api::Target target;
    int64_t id = 0;
  };
  struct Route {
    std::string method;
    std::string pattern;  // "/v1/jobs/{id}/cancel"; also the label of its metrics
    std::function<void(ApiRouter&, const Call&, Reply)> handler;
  };

  // POST /v1/jobs: answers after the group commit.
  void Submit(const Call& c, Reply reply);
  api::Response List(const Call& c);
  api::Response Get(const Call& c);
  api::Response Cancel(const Call& c);
  // GET /v1/compare?candidate=ID[&baseline=ID] (common/compare.h).
  api::Response Compare(const Call& c);
  StatusOr<RunSummary> Summary(const JobRecord& job);
  // GET /v1/jobs/{id}/emissions?format=json|csv: CodeCarbon's rows.
  api::Response Emissions(const Call& c);
  api::Response Health(const Call& c);
  // GET /v1/events: Server-Sent Events (daemon/http/event_hub.h).
  api::Response Events(const Call& c);
  // GET /v1/totals?days=14&weeks=8: energy, CO2 and CO2 saved per day and week.
  api::Response Totals(const Call& c);
  // GET /: the live dashboard (daemon/http/dashboard/index.html).
  api::Response Dashboard(const Call& c);
  Timestamp Now() const;
  // GET /metrics: Prometheus text format (daemon/http/metrics.h).
  api::Response Metrics(const Call& c);
  api::Response Intensity(const Call& c);
  api::Response IntensityForecast(const Call& c);
  api::Response IntensityHistory(const Call& c);
  // The zone named by ?zone=, else the first polled zone; errors when unknown.
  StatusOr<std::string> ZoneParam(const api::Target& t) const;

  std::vector<Route> routes_;
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

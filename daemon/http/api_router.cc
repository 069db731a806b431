#include "daemon/http/api_router.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "common/compare.h"
#include "common/emissions_csv.h"
#include "common/job_spec.h"
#include "common/time_util.h"
#include "daemon/http/dashboard.h"

namespace carbon {

using nlohmann::json;

namespace {

api::Response JsonResponse(int status, const json& body) {
  api::Response r;
  r.status = status;
  r.body = api::JsonText(body);
  return r;
}

api::Response MethodNotAllowed(const std::string& method, const std::string& path,
                               const std::string& allowed) {
  api::Response r = api::ErrorResponse(
      Status(StatusCode::kInvalidArgument,
             "method " + method + " is not allowed on " + path + "; use " + allowed));
  r.status = 405;
  return r;
}

// Whether `path` matches `pattern` ("/v1/jobs/{id}/cancel"): segment by
// segment, "{id}" matching 1 to 18 digits, which go to *id.
bool MatchPath(const std::string& pattern, const std::string& path, int64_t* id) {
  size_t p = 0, q = 0;
  while (p < pattern.size() && q < path.size()) {
    if (pattern.compare(p, 4, "{id}") == 0) {
      size_t end = q;
      while (end < path.size() && std::isdigit(static_cast<unsigned char>(path[end]))) ++end;
      if (end == q || end - q > 18) return false;
      *id = std::stoll(path.substr(q, end - q));
      p += 4;
      q = end;
    } else if (pattern[p++] != path[q++]) {
      return false;
    }
  }
  return p == pattern.size() && q == path.size();
}

}  // namespace

ApiRouter::ApiRouter(Scheduler& scheduler, JobStore& store, RouterInfo info)
    : scheduler_(scheduler), store_(store), info_(std::move(info)) {
  // Every route of the API (proto-less-api/openapi.yaml); the first match wins.
  auto sync = [](api::Response (ApiRouter::*f)(const Call&)) {
    return [f](ApiRouter& self, const Call& c, Reply reply) { reply((self.*f)(c)); };
  };
  routes_ = {
      {"GET", "/v1/jobs", sync(&ApiRouter::List)},
      {"POST", "/v1/jobs", [](ApiRouter& self, const Call& c, Reply reply) { self.Submit(c, std::move(reply)); }},
      {"GET", "/v1/jobs/{id}", sync(&ApiRouter::Get)},
      {"GET", "/v1/jobs/{id}/", sync(&ApiRouter::Get)},
      {"GET", "/v1/jobs/{id}/emissions", sync(&ApiRouter::Emissions)},
      {"POST", "/v1/jobs/{id}/cancel", sync(&ApiRouter::Cancel)},
      {"GET", "/v1/compare", sync(&ApiRouter::Compare)},
      {"GET", "/v1/intensity", sync(&ApiRouter::Intensity)},
      {"GET", "/v1/intensity/forecast", sync(&ApiRouter::IntensityForecast)},
      {"GET", "/v1/intensity/history", sync(&ApiRouter::IntensityHistory)},
      {"GET", "/v1/health", sync(&ApiRouter::Health)},
      {"GET", "/v1/events", sync(&ApiRouter::Events)},
      {"GET", "/v1/totals", sync(&ApiRouter::Totals)},
      {"GET", "/metrics", sync(&ApiRouter::Metrics)},
      {"GET", "/", sync(&ApiRouter::Dashboard)},
      {"GET", "/index.html", sync(&ApiRouter::Dashboard)},
  };
}

api::Response ApiRouter::Handle(const api::Request& r) {
  std::optional<api::Response> out;
  Handle(r, [&](api::Response resp) { out = std::move(resp); });
  if (!out) scheduler_.FlushSubmits();
  return std::move(*out);
}

void ApiRouter::Handle(const api::Request& r, Reply reply) {
  Call call{r, api::ParseTarget(r.target), 0};
  // The route's pattern, or the methods the path allows ("GET or POST").
  const Route* route = nullptr;
  std::string label = "other", allowed;
  for (const Route& candidate : routes_) {
    int64_t id = 0;
    if (!MatchPath(candidate.pattern, call.target.path, &id)) continue;
    if (label == "other") label = candidate.pattern;
    if (candidate.method == r.method) {
      route = &candidate;
      call.id = id;
      break;
    }
    if (allowed.find(candidate.method) == std::string::npos)
      allowed += (allowed.empty() ? "" : " or ") + candidate.method;
  }
  // Every answer is counted and timed by route (GET /metrics).
  Reply timed = [this, reply = std::move(reply), label = route ? route->pattern : label,
                 method = r.method, start = std::chrono::steady_clock::now()](api::Response resp) {
    api_metrics_.Observe(label, method, resp.status,
                         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    reply(std::move(resp));
  };
  // The TCP listener knows nobody: it serves what only reads.
  if (r.via_tcp && r.method != "GET") {
    timed(api::ErrorResponse(PermissionDenied(
        "only GET is served on the TCP listener (api.tcp_listen); " + r.method + " " + call.target.path +
        " changes state and is accepted on the unix socket only, where carbond knows who asks")));
    return;
  }
  if (route) {
    route->handler(*this, call, std::move(timed));
  } else if (!allowed.empty()) {
    timed(MethodNotAllowed(r.method, call.target.path, allowed));
  } else {
    timed(api::ErrorResponse(NotFound("no route " + r.method + " " + call.target.path +
                                      "; see proto-less-api/openapi.yaml for the API")));
  }
}

void ApiRouter::Submit(const Call& c, Reply reply) {
  const api::Request& r = c.request;
  const api::Target& t = c.target;
  std::string ct = r.content_type.substr(0, r.content_type.find(';'));
  static const char* kTypes[] = {"", "application/yaml", "application/x-yaml", "text/yaml",
                                 "text/x-yaml", "application/json", "text/plain"};
  bool ok = false;
  for (const char* k : kTypes) ok = ok || ct == k;
  if (!ok) {
    api::Response resp = api::ErrorResponse(InvalidArgument(
        "Content-Type '" + ct + "' is not accepted; send the job as application/yaml or "
        "application/json"));
    resp.status = 415;
    reply(std::move(resp));
    return;
  }
  if (r.body.empty()) {
    reply(api::ErrorResponse(InvalidArgument("empty request body; send a job spec (YAML or JSON)")));
    return;
  }
  std::string file = "request body";
  if (auto it = t.query.find("filename"); it != t.query.end() && !it->second.empty())
    file = it->second.substr(0, 200);
  bool with_baseline = false;
  if (auto it = t.query.find("with_baseline"); it != t.query.end()) {
    if (it->second == "1" || it->second == "true") {
      with_baseline = true;
    } else if (it->second != "0" && it->second != "false") {
      reply(api::ErrorResponse(Status(StatusCode::kInvalidArgument,
                                      "with_baseline '" + it->second + "' is not known; use true or false",
                                      "with_baseline")));
      return;
    }
  }
  auto answer = [this, reply](StatusOr<JobRecord> job) {
    if (!job.ok()) reply(api::ErrorResponse(job.status()));
    else reply(JsonResponse(201, JobJson(*job, false)));
  };
  if (with_baseline) scheduler_.SubmitWithBaselineAsync(r.body, file, r.peer_uid, std::move(answer));
  else scheduler_.SubmitAsync(r.body, file, r.peer_uid, std::move(answer));
}

api::Response ApiRouter::List(const Call& c) {
  const api::Target& t = c.target;
  JobFilter f;
  if (auto it = t.query.find("state"); it != t.query.end() && !it->second.empty()) {
    JobState s;
    if (!ParseJobState(it->second, &s))
      return api::ErrorResponse(InvalidArgument(
          "unknown state '" + it->second +
              "'; expected queued, waiting, running, succeeded, failed, cancelled or stopped_budget",
          "state"));
    f.state = s;
  }
  auto parse_int = [&](const char* key, int64_t min, int64_t max, int64_t* out) -> Status {
    auto it = t.query.find(key);
    if (it == t.query.end()) return Status();
    ASSIGN_OR_RETURN(*out, api::ParseIntParam(key, it->second, min, max));
    return Status();
  };
  if (Status st = parse_int("limit", 1, 10000, &f.limit); !st.ok()) return api::ErrorResponse(st);
  if (Status st = parse_int("after", 0, INT64_MAX, &f.after_id); !st.ok())
    return api::ErrorResponse(st);
  auto jobs = store_.List(f);
  if (!jobs.ok()) return api::ErrorResponse(jobs.status());
  scheduler_.ShowLivePlans(*jobs);
  json arr = json::array();
  for (const auto& j : *jobs) arr.push_back(JobJson(j, false));
  // How many jobs each state has (all of them, not this page), and where
  // the next page starts when this one is full.
  auto counts = store_.CountByState();
  if (!counts.ok()) return api::ErrorResponse(counts.status());
  json by_state = json::object();
  for (const auto& [state, n] : *counts) by_state[JobStateName(state)] = n;
  const bool full = static_cast<int64_t>(jobs->size()) == f.limit;
  return JsonResponse(200, json{{"jobs", arr},
                                {"counts", by_state},
                                {"next_after", full ? json(jobs->back().id) : json(nullptr)}});
}

api::Response ApiRouter::Get(const Call& c) {
  const int64_t id = c.id;
  auto job = scheduler_.Job(id);
  if (!job.ok()) return api::ErrorResponse(job.status());
  json out = JobJson(*job, true);
  auto events = store_.Events(id);
  if (!events.ok()) return api::ErrorResponse(events.status());
  json ev = json::array();
  for (const auto& e : *events) ev.push_back(api::EventToJson(e));
  out["events"] = ev;
  auto epochs = store_.Epochs(id);
  if (!epochs.ok()) return api::ErrorResponse(epochs.status());
  json ep = json::array();
  for (const auto& e : *epochs) ep.push_back(api::EpochToJson(e));
  out["epochs"] = ep;
  auto savings = store_.Savings(id);
  out["savings"] = savings.ok() && *savings ? api::SavingsToJson(**savings) : json(nullptr);
  return JsonResponse(200, out);
}

api::Response ApiRouter::Emissions(const Call& c) {
  const int64_t id = c.id;
  const api::Target& t = c.target;
  std::string format = "json";
  if (auto f = t.query.find("format"); f != t.query.end()) format = f->second;
  if (format != "json" && format != "csv")
    return api::ErrorResponse(Status(StatusCode::kInvalidArgument,
                                     "format '" + format + "' is not known; use json or csv", "format"));
  auto job = store_.Get(id);
  if (!job.ok()) return api::ErrorResponse(job.status());
  auto epochs = store_.Epochs(id);
  if (!epochs.ok()) return api::ErrorResponse(epochs.status());
  // ?rows=epochs (default): a row per epoch, as the run directory's
  // emissions.csv; ?rows=total: the run as one row (emissions-total.csv),
  // once the job has succeeded or was stopped by its budget.
  std::string which = "epochs";
  if (auto r = t.query.find("rows"); r != t.query.end()) which = r->second;
  if (which != "epochs" && which != "total")
    return api::ErrorResponse(
        Status(StatusCode::kInvalidArgument, "rows '" + which + "' is not known; use epochs or total", "rows"));
  std::vector<EmissionsRecord> rows;
  if (which == "epochs") {
    rows = EmissionsRows(*job, *epochs);
  } else {
    if ((job->state != JobState::kSucceeded && job->state != JobState::kStoppedBudget) || epochs->empty())
      return api::ErrorResponse(FailedPrecondition(
          "job " + std::to_string(id) + " is " + JobStateName(job->state) +
          ": its total is written once it has succeeded or was stopped by its carbon budget, with at least one epoch"));
    rows = {EmissionsTotal(*job, *epochs)};
  }
  api::Response out;
  if (format == "csv") {
    out.content_type = "text/csv; charset=utf-8";
    out.body = RenderEmissionsCsv(rows);
  } else {
    out.body = RenderEmissionsJson(rows);
  }
  return out;
}

StatusOr<RunSummary> ApiRouter::Summary(const JobRecord& job) {
  ASSIGN_OR_RETURN(std::vector<EpochRecord> epochs, store_.Epochs(job.id));
  // The reading recorded for the job's zone at its submission.
  std::optional<double> at_submit;
  if (intensity_store_ && intensity_) {
    std::string zone;
    if (auto spec = ParseJobSpec(job.spec_text, "job " + std::to_string(job.id)); spec.ok()) zone = spec->carbon.zone;
    if (zone.empty()) zone = intensity_->zones().front();
    auto rs = intensity_store_->Readings(zone, job.submitted - std::chrono::hours(2), job.submitted + Duration(1));
    if (rs.ok())
      for (const StoredReading& r : *rs)
        if (r.point.Covers(job.submitted)) at_submit = r.point.gco2_per_kwh;
  }
  return SummarizeRun(job, epochs, at_submit);
}

api::Response ApiRouter::Compare(const Call& c) {
  const api::Target& t = c.target;
  auto id_param = [&](const char* key) -> StatusOr<std::optional<int64_t>> {
    auto it = t.query.find(key);
    if (it == t.query.end() || it->second.empty()) return std::optional<int64_t>();
    char* end = nullptr;
    long long v = std::strtoll(it->second.c_str(), &end, 10);
    if (*end != '\0' || v <= 0)
      return Status(StatusCode::kInvalidArgument, std::string(key) + " '" + it->second + "' is not a job id", key);
    return std::optional<int64_t>(v);
  };
  auto cand_id = id_param("candidate");
  if (!cand_id.ok()) return api::ErrorResponse(cand_id.status());
  auto base_id = id_param("baseline");
  if (!base_id.ok()) return api::ErrorResponse(base_id.status());
  if (!*cand_id)
    return api::ErrorResponse(Status(StatusCode::kInvalidArgument,
                                     "give candidate=ID (and baseline=ID unless the candidate was submitted "
                                     "with its baseline twin)",
                                     "candidate"));
  auto cand = scheduler_.Job(**cand_id);
  if (!cand.ok()) return api::ErrorResponse(cand.status());
  std::optional<int64_t> b = *base_id ? *base_id : cand->baseline_id;
  if (!b)
    return api::ErrorResponse(Status(StatusCode::kInvalidArgument,
                                     "job " + std::to_string(cand->id) +
                                         " has no baseline twin (submit with --with-baseline); give baseline=ID",
                                     "baseline"));
  auto base = scheduler_.Job(*b);
  if (!base.ok()) return api::ErrorResponse(base.status());
  auto bs = Summary(*base);
  if (!bs.ok()) return api::ErrorResponse(bs.status());
  auto cs = Summary(*cand);
  if (!cs.ok()) return api::ErrorResponse(cs.status());
  json out = {{"baseline", api::RunSummaryToJson(*bs)},
              {"candidate", api::RunSummaryToJson(*cs)},
              {"rows", api::CompareRowsToJson(CompareRuns(*bs, *cs))}};
  auto savings = store_.Savings(cand->id);
  out["candidate_savings"] = savings.ok() && *savings ? api::SavingsToJson(**savings) : json(nullptr);
  return JsonResponse(200, out);
}

api::Response ApiRouter::Metrics(const Call&) {
  metrics::Writer w;
  w.Family("carbond_build_info", "gauge", "carbond's version (always 1).");
  w.Sample("carbond_build_info", {{"version", info_.version}}, 1);
  w.Family("carbond_uptime_seconds", "gauge", "Seconds since carbond started.");
  w.Sample("carbond_uptime_seconds", {},
           std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  w.Family("carbond_jobs", "gauge", "Jobs in the queue and its history, by state.");
  std::map<JobState, int64_t> counts;
  if (auto c = store_.CountByState(); c.ok()) counts = *c;
  for (JobState s : kAllJobStates)
    w.Sample("carbond_jobs", {{"state", JobStateName(s)}}, static_cast<double>(counts[s]));
  if (auto t = store_.TotalsForMetrics(); t.ok()) {
    w.Family("carbond_job_wait_seconds", "summary", "Time from submission to start of jobs that started.");
    w.Sample("carbond_job_wait_seconds_sum", {}, t->wait_seconds_sum);
    w.Sample("carbond_job_wait_seconds_count", {}, static_cast<double>(t->started));
    constexpr double kJoulesPerKwh = 3.6e6;
    w.Family("carbond_energy_joules_total", "counter",
             "Energy measured by the workers (CodeCarbon's methodology), by component.");
    w.Sample("carbond_energy_joules_total", {{"component", "cpu"}}, t->cpu_kwh * kJoulesPerKwh);
    w.Sample("carbond_energy_joules_total", {{"component", "gpu"}}, t->gpu_kwh * kJoulesPerKwh);
    w.Sample("carbond_energy_joules_total", {{"component", "ram"}}, t->ram_kwh * kJoulesPerKwh);
    w.Family("carbond_emissions_grams_total", "counter", "CO2-equivalent emitted by the measured energy.");
    w.Sample("carbond_emissions_grams_total", {}, t->kg_co2 * 1000);
    w.Family("carbond_emissions_saved_grams_total", "counter",
             "CO2-equivalent saved by waiting, against starting each succeeded job at its submission.");
    w.Sample("carbond_emissions_saved_grams_total", {}, t->saved_kg * 1000);
  }
  if (intensity_) {
    const Timestamp now = clock_->Now();
    w.Family("carbond_grid_intensity_gco2_per_kwh", "gauge", "The current grid carbon intensity, by zone and source.");
    for (const std::string& zone : intensity_->zones())
      if (const ZoneIntensity* z = intensity_->Zone(zone); z && z->current)
        w.Sample("carbond_grid_intensity_gco2_per_kwh", {{"zone", zone}, {"source", z->current->source}},
                 z->current->point.gco2_per_kwh);
    w.Family("carbond_grid_forecast_gco2_per_kwh", "gauge",
             "The newest forecast's intensity some hours ahead, by zone and source.");
    for (const std::string& zone : intensity_->zones()) {
      auto fc = intensity_store_->LatestForecast(zone, now);
      if (!fc.ok() || !*fc) continue;
      for (int h : {1, 3, 6, 12, 24, 48})
        if (auto p = PointAt((*fc)->points, now + std::chrono::hours(h)))
          w.Sample("carbond_grid_forecast_gco2_per_kwh",
                   {{"zone", zone}, {"source", (*fc)->source}, {"hours_ahead", std::to_string(h)}}, p->gco2_per_kwh);
    }
    w.Family("carbond_intensity_fetch_errors_total", "counter", "Failed intensity fetches, by source and kind.");
    for (const auto& [key, n] : intensity_->fetch_errors())
      w.Sample("carbond_intensity_fetch_errors_total", {{"source", key.first}, {"kind", key.second}},
               static_cast<double>(n));
  }
  api_metrics_.Write(w);
  api::Response out;
  out.content_type = "text/plain; version=0.0.4; charset=utf-8";
  out.body = w.text();
  return out;
}

api::Response ApiRouter::Cancel(const Call& c) {
  const int64_t id = c.id;
  const uint32_t uid = c.request.peer_uid;
  auto job = scheduler_.Cancel(id, uid);
  if (!job.ok()) return api::ErrorResponse(job.status());
  return JsonResponse(200, JobJson(*job, false));
}

api::Response ApiRouter::Health(const Call&) {
  json h;
  h["version"] = info_.version;
  h["api"] = api::kApiVersion;
  h["uptime_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  Status db = store_.Ping();
  h["database"] = {{"path", info_.database_path}, {"ok", db.ok()}};
  if (!db.ok()) h["database"]["error"] = db.message();
  json queue = json::object();
  for (JobState s : kAllJobStates) queue[JobStateName(s)] = 0;
  auto counts = store_.CountByState();
  if (counts.ok())
    for (auto& [s, n] : *counts) queue[JobStateName(s)] = n;
  h["queue"] = queue;
  h["draining"] = scheduler_.draining();
  h["now"] = FormatTime(Now());
  h["last_event_id"] = events_ ? json(events_->last_id()) : json(nullptr);
  h["tcp"] = tcp_endpoint_.empty() ? json(nullptr) : json(tcp_endpoint_);
  h["reload"] = json(nullptr);
  if (last_reload_) {
    auto changes = [](const std::vector<ConfigChange>& v) {
      json a = json::array();
      for (const auto& c : v) a.push_back({{"key", c.key}, {"from", c.from}, {"to", c.to}, {"why", c.why}});
      return a;
    };
    h["reload"] = {{"at", FormatTime(last_reload_->at)},
                   {"file", last_reload_->file},
                   {"error", last_reload_->error.empty() ? json(nullptr) : json(last_reload_->error)},
                   {"applied", changes(last_reload_->applied)},
                   {"needs_restart", changes(last_reload_->needs_restart)}};
  }
  // Each site, and why it is degraded (Slurm unreachable, sbatch failing).
  json sites = json::array();
  bool site_down = false;
  for (const Site& site : scheduler_.sites()) {
    const std::string why = site.executor->Degraded();
    site_down = site_down || !why.empty();
    sites.push_back({{"name", site.name},
                     {"zone", site.zone.empty() ? scheduler_.options().default_zone : site.zone},
                     {"slots", scheduler_.SlotsOf(site)},
                     {"running", site.executor->RunningCount()},
                     {"detached", site.executor->Detached()},
                     {"degraded", why.empty() ? json(nullptr) : json(why)}});
  }
  h["sites"] = sites;
  h["status"] = db.ok() && counts.ok() && !site_down ? "ok" : "degraded";
  if (intensity_) {
    json in;
    in["chain"] = intensity_->chain_names();
    json zones = json::object();
    for (const std::string& z : intensity_->zones()) {
      const ZoneIntensity* v = intensity_->Zone(z);
      json zj;
      zj["source"] = v->source.empty() ? json(nullptr) : json(v->source);
      zj["fallback"] = v->fallback;
      zj["reason"] = v->reason;
      if (v->current) {
        zj["gco2_per_kwh"] = v->current->point.gco2_per_kwh;
        zj["time"] = FormatTime(v->current->point.time);
        zj["age_s"] = std::chrono::duration<double>(clock_->Now() - v->current->fetched_at).count();
      }
      zj["forecast_source"] = v->forecast_source.empty() ? json(nullptr) : json(v->forecast_source);
      zj["forecast_reason"] = v->forecast_reason;
      if (v->forecast_issued_at) zj["forecast_issued_at"] = FormatTime(*v->forecast_issued_at);
      zj["poll_in_flight"] = intensity_->in_flight(z);
      zones[z] = zj;
    }
    in["zones"] = zones;
    h["intensity"] = in;
  }
  return JsonResponse(200, h);
}

StatusOr<std::string> ApiRouter::ZoneParam(const api::Target& t) const {
  const auto& zones = intensity_->zones();
  auto it = t.query.find("zone");
  if (it == t.query.end() || it->second.empty()) return zones.front();
  for (const auto& z : zones)
    if (z == it->second) return z;
  std::string known;
  for (const auto& z : zones) known += (known.empty() ? "" : ", ") + z;
  return Status(StatusCode::kNotFound, "zone '" + it->second + "' is not polled by this carbond; polled zones: " +
                                           known + " (intensity.zones in the config)",
                "zone");
}

api::Response ApiRouter::Intensity(const Call& c) {
  if (!intensity_) return api::ErrorResponse(Unavailable("intensity is not configured in this carbond"));
  const api::Target& t = c.target;
  auto zone = ZoneParam(t);
  if (!zone.ok()) return api::ErrorResponse(zone.status());
  const ZoneIntensity* v = intensity_->Zone(*zone);
  if (!v->current)
    return api::ErrorResponse(Unavailable("no intensity reading yet for zone " + *zone +
                                          (v->reason.empty() ? "" : ": " + v->reason)));
  Timestamp now = clock_->Now();
  const StoredReading& r = *v->current;
  json j = api::IntensityPointToJson(r.point);
  j["zone"] = *zone;
  j["source"] = r.source;
  j["fallback"] = v->fallback;
  j["reason"] = v->reason;
  j["fetched_at"] = FormatTime(r.fetched_at);
  j["age_s"] = std::chrono::duration<double>(now - r.fetched_at).count();
  j["now"] = FormatTime(now);
  j["chain"] = intensity_->chain_names();
  return JsonResponse(200, j);
}

api::Response ApiRouter::IntensityForecast(const Call& c) {
  if (!intensity_) return api::ErrorResponse(Unavailable("intensity is not configured in this carbond"));
  const api::Target& t = c.target;
  auto zone = ZoneParam(t);
  if (!zone.ok()) return api::ErrorResponse(zone.status());
  // ?at=TIME: the forecast that was newest then (what a job submitted then saw).
  Timestamp now = clock_->Now();
  if (auto it = t.query.find("at"); it != t.query.end() && !it->second.empty()) {
    auto at = ParseTime(it->second);
    if (!at.ok())
      return api::ErrorResponse(InvalidArgument("query parameter 'at': " + at.status().message(), "at"));
    now = *at;
  }
  auto fc = intensity_store_->LatestForecast(*zone, now);
  if (!fc.ok()) return api::ErrorResponse(fc.status());
  const ZoneIntensity* v = intensity_->Zone(*zone);
  if (!*fc)
    return api::ErrorResponse(Unavailable("no forecast stored for zone " + *zone + " issued by " + FormatTime(now) +
                                          (v->forecast_reason.empty() ? "" : ": " + v->forecast_reason)));
  json pts = json::array();
  for (const IntensityPoint& p : (*fc)->points)
    if (p.end() > now) pts.push_back(api::IntensityPointToJson(p));
  json j;
  j["zone"] = *zone;
  j["source"] = (*fc)->source;
  j["issued_at"] = FormatTime((*fc)->issued_at);
  j["reason"] = v->forecast_reason;
  j["now"] = FormatTime(now);
  j["points"] = pts;
  return JsonResponse(200, j);
}

api::Response ApiRouter::IntensityHistory(const Call& c) {
  if (!intensity_) return api::ErrorResponse(Unavailable("intensity is not configured in this carbond"));
  const api::Target& t = c.target;
  auto zone = ZoneParam(t);
  if (!zone.ok()) return api::ErrorResponse(zone.status());
  Timestamp now = clock_->Now();
  Timestamp from = now - std::chrono::hours(24), to = now;
  for (auto [key, out] : {std::pair<const char*, Timestamp*>{"from", &from}, {"to", &to}}) {
    auto it = t.query.find(key);
    if (it == t.query.end() || it->second.empty()) continue;
    auto v = ParseTime(it->second);
    if (!v.ok()) return api::ErrorResponse(InvalidArgument(std::string("query parameter '") + key + "': " +
                                                           v.status().message(), key));
    *out = *v;
  }
  if (to <= from) return api::ErrorResponse(InvalidArgument("'to' must be after 'from'", "to"));
  if (to - from > std::chrono::hours(24 * 366))
    return api::ErrorResponse(InvalidArgument("the range from..to is longer than 366 days; ask in parts", "to"));
  auto rs = intensity_store_->Readings(*zone, from, to);
  if (!rs.ok()) return api::ErrorResponse(rs.status());
  json arr = json::array();
  for (const StoredReading& r : *rs) {
    json p = api::IntensityPointToJson(r.point);
    p["source"] = r.source;
    p["fetched_at"] = FormatTime(r.fetched_at);
    p["fallback"] = r.fallback ? json(*r.fallback) : json(nullptr);
    arr.push_back(p);
  }
  return JsonResponse(200, {{"zone", *zone}, {"from", FormatTime(from)}, {"to", FormatTime(to)}, {"readings", arr}});
}

json ApiRouter::JobJson(const JobRecord& job, bool with_spec) const {
  json j = api::JobToJson(job, with_spec);
  auto end = job.state == JobState::kWaiting ? scheduler_.PlannedEnd(job.id) : std::nullopt;
  j["planned_end"] = end ? json(FormatTime(*end)) : json(nullptr);
  return j;
}

Timestamp ApiRouter::Now() const {
  if (clock_) return clock_->Now();
  return SystemClock().Now();
}

api::Response ApiRouter::Events(const Call& c) {
  const api::Request& r = c.request;
  const api::Target& t = c.target;
  if (!events_) return api::ErrorResponse(Unavailable("the event stream is not enabled in this carbond"));
  auto param = [&](const char* k) {
    auto it = t.query.find(k);
    return it == t.query.end() ? std::string() : it->second;
  };
  auto filter = ParseEventFilter(param("job"), param("types"));
  if (!filter.ok()) return api::ErrorResponse(filter.status());
  // Resume after Last-Event-ID (EventSource's reconnect) or ?since=ID.
  std::string since = !r.last_event_id.empty() ? r.last_event_id : param("since");
  std::optional<uint64_t> last;
  if (!since.empty()) {
    auto id = api::ParseIntParam("since", since, 0, INT64_MAX);
    if (!id.ok()) return api::ErrorResponse(id.status());
    last = static_cast<uint64_t>(*id);
  }
  api::Response resp;
  resp.content_type = "text/event-stream";
  // The first lines: the reconnect delay, and a hello with carbond's clock
  // (virtual in demos) and the newest event id.
  json hello = {{"now", FormatTime(Now())}, {"version", info_.version}, {"last_id", events_->last_id()}};
  resp.body = "retry: 2000\nevent: hello\ndata: " + api::JsonText(hello) + "\n\n";
  resp.stream = [hub = events_, f = std::move(*filter), last](std::shared_ptr<api::StreamSink> sink) {
    hub->Subscribe(std::move(sink), f, last);
  };
  return resp;
}

api::Response ApiRouter::Totals(const Call& c) {
  const api::Target& t = c.target;
  int64_t counts[2] = {14, 8};
  const char* names[2] = {"days", "weeks"};
  for (int i = 0; i < 2; ++i) {
    auto n = api::IntQuery(t, names[i], 1, 366);
    if (!n.ok()) return api::ErrorResponse(n.status());
    if (*n) counts[i] = **n;
  }
  using Days = std::chrono::duration<int64_t, std::ratio<86400>>;
  const Timestamp now = Now();
  const auto today = std::chrono::floor<Days>(now);
  // 1970-01-01 was a Thursday: Monday-based weekday = (days + 3) % 7.
  const int64_t today_n = today.time_since_epoch().count();
  const auto this_monday = today - Days((today_n % 7 + 7 + 3) % 7);
  const auto first_day = today - Days(counts[0] - 1);
  const auto first_week = this_monday - Days(7 * (counts[1] - 1));
  auto day_text = [](auto d) { return FormatTime(Timestamp(d)).substr(0, 10); };
  auto rows = store_.DailyTotals(day_text(std::min(first_day, first_week)));
  if (!rows.ok()) return api::ErrorResponse(rows.status());
  auto row_json = [](const std::string& key, const std::string& label, const JobStore::DayTotals& d) {
    return json{{key, label},         {"energy_kwh", d.energy_kwh}, {"kg_co2", d.kg_co2},
                {"saved_kg", d.saved_kg}, {"epochs", d.epochs},         {"jobs_saved", d.jobs_saved}};
  };
  // Every day and week of the range, zeros where nothing happened.
  std::map<std::string, JobStore::DayTotals> by_day, by_week;
  for (const auto& d : *rows) by_day[d.day] = d;
  json days = json::array(), weeks = json::array();
  for (auto d = first_day; d <= today; d += Days(1)) {
    auto it = by_day.find(day_text(d));
    days.push_back(row_json("day", day_text(d), it == by_day.end() ? JobStore::DayTotals{} : it->second));
  }
  for (auto w = first_week; w <= this_monday; w += Days(7)) {
    JobStore::DayTotals sum;
    for (auto d = w; d < w + Days(7); d += Days(1)) {
      auto it = by_day.find(day_text(d));
      if (it == by_day.end()) continue;
      sum.energy_kwh += it->second.energy_kwh;
      sum.kg_co2 += it->second.kg_co2;
      sum.saved_kg += it->second.saved_kg;
      sum.epochs += it->second.epochs;
      sum.jobs_saved += it->second.jobs_saved;
    }
    weeks.push_back(row_json("week_of", day_text(w), sum));
  }
  return JsonResponse(200, {{"now", FormatTime(now)}, {"days", days}, {"weeks", weeks}});
}

api::Response ApiRouter::Dashboard(const Call&) {
  api::Response r;
  r.content_type = "text/html; charset=utf-8";
  r.body = kDashboardHtml;
  return r;
}

}  // namespace carbon

#include "daemon/api_router.h"

#include <cctype>

namespace carbon {

using nlohmann::json;

namespace {

api::Response JsonResponse(int status, const json& body) {
  api::Response r;
  r.status = status;
  r.body = body.dump();
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

// "/v1/jobs/12" -> 12, "/v1/jobs/12/cancel" -> 12 with rest "/cancel".
bool ParseJobPath(const std::string& path, int64_t* id, std::string* rest) {
  const std::string prefix = "/v1/jobs/";
  if (path.rfind(prefix, 0) != 0) return false;
  size_t i = prefix.size();
  size_t j = i;
  while (j < path.size() && std::isdigit(static_cast<unsigned char>(path[j]))) ++j;
  if (j == i || j - i > 18) return false;
  *id = std::stoll(path.substr(i, j - i));
  *rest = path.substr(j);
  return true;
}

}  // namespace

ApiRouter::ApiRouter(Scheduler& scheduler, JobStore& store, RouterInfo info)
    : scheduler_(scheduler), store_(store), info_(std::move(info)) {}

api::Response ApiRouter::Handle(const api::Request& r) {
  std::optional<api::Response> out;
  Handle(r, [&](api::Response resp) { out = std::move(resp); });
  if (!out) scheduler_.FlushSubmits();
  return std::move(*out);
}

void ApiRouter::Handle(const api::Request& r, Reply reply) {
  api::Target t = api::ParseTarget(r.target);
  if (t.path == "/v1/jobs" && r.method == "POST") {
    Submit(r, t, std::move(reply));
    return;
  }
  reply(Route(r, t));
}

api::Response ApiRouter::Route(const api::Request& r, const api::Target& t) {
  if (t.path == "/v1/jobs") {
    if (r.method == "GET") return List(t);
    return MethodNotAllowed(r.method, t.path, "GET or POST");
  }
  if (t.path == "/v1/health") {
    if (r.method == "GET") return Health();
    return MethodNotAllowed(r.method, t.path, "GET");
  }
  int64_t id;
  std::string rest;
  if (ParseJobPath(t.path, &id, &rest)) {
    if (rest.empty() || rest == "/") {
      if (r.method == "GET") return Get(id);
      return MethodNotAllowed(r.method, t.path, "GET");
    }
    if (rest == "/cancel") {
      if (r.method == "POST") return Cancel(id, r.peer_uid);
      return MethodNotAllowed(r.method, t.path, "POST");
    }
  }
  return api::ErrorResponse(NotFound("no route " + r.method + " " + t.path +
                                     "; see proto-less-api/openapi.yaml for the API"));
}

void ApiRouter::Submit(const api::Request& r, const api::Target& t, Reply reply) {
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
  scheduler_.SubmitAsync(r.body, file, r.peer_uid, [reply](StatusOr<JobRecord> job) {
    if (!job.ok()) reply(api::ErrorResponse(job.status()));
    else reply(JsonResponse(201, api::JobToJson(*job, false)));
  });
}

api::Response ApiRouter::List(const api::Target& t) {
  JobFilter f;
  if (auto it = t.query.find("state"); it != t.query.end() && !it->second.empty()) {
    JobState s;
    if (!ParseJobState(it->second, &s))
      return api::ErrorResponse(InvalidArgument(
          "unknown state '" + it->second +
              "'; expected queued, waiting, running, succeeded, failed or cancelled",
          "state"));
    f.state = s;
  }
  auto parse_int = [&](const char* key, int64_t min, int64_t max, int64_t* out) -> Status {
    auto it = t.query.find(key);
    if (it == t.query.end()) return Status();
    char* end = nullptr;
    long long v = std::strtoll(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0' || v < min || v > max)
      return InvalidArgument("query parameter " + std::string(key) + "='" + it->second +
                                 "' is not accepted; expected an integer from " +
                                 std::to_string(min) + " to " + std::to_string(max),
                             key);
    *out = v;
    return Status();
  };
  if (Status st = parse_int("limit", 1, 10000, &f.limit); !st.ok()) return api::ErrorResponse(st);
  if (Status st = parse_int("after", 0, INT64_MAX, &f.after_id); !st.ok())
    return api::ErrorResponse(st);
  auto jobs = store_.List(f);
  if (!jobs.ok()) return api::ErrorResponse(jobs.status());
  json arr = json::array();
  for (const auto& j : *jobs) arr.push_back(api::JobToJson(j, false));
  return JsonResponse(200, json{{"jobs", arr}});
}

api::Response ApiRouter::Get(int64_t id) {
  auto job = store_.Get(id);
  if (!job.ok()) return api::ErrorResponse(job.status());
  json out = api::JobToJson(*job, true);
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
  return JsonResponse(200, out);
}

api::Response ApiRouter::Cancel(int64_t id, uint32_t uid) {
  auto job = scheduler_.Cancel(id, uid);
  if (!job.ok()) return api::ErrorResponse(job.status());
  return JsonResponse(200, api::JobToJson(*job, false));
}

api::Response ApiRouter::Health() {
  json h;
  h["version"] = info_.version;
  h["api"] = api::kApiVersion;
  h["uptime_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  Status db = store_.Ping();
  h["database"] = {{"path", info_.database_path}, {"ok", db.ok()}};
  if (!db.ok()) h["database"]["error"] = db.message();
  json queue = json::object();
  for (JobState s : {JobState::kQueued, JobState::kWaiting, JobState::kRunning,
                     JobState::kSucceeded, JobState::kFailed, JobState::kCancelled})
    queue[JobStateName(s)] = 0;
  auto counts = store_.CountByState();
  if (counts.ok())
    for (auto& [s, n] : *counts) queue[JobStateName(s)] = n;
  h["queue"] = queue;
  h["draining"] = scheduler_.draining();
  h["status"] = db.ok() && counts.ok() ? "ok" : "degraded";
  return JsonResponse(200, h);
}

}  // namespace carbon

#include "proto-less-api/api.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "common/time_util.h"
#include "common/worker_protocol.h"

namespace carbon::api {

using nlohmann::json;

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kResourceExhausted: return 413;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDataLoss: return 500;
    case StatusCode::kInternal: return 500;
    case StatusCode::kUnimplemented: return 501;
  }
  return 500;
}

std::string ErrorBody(const Status& st) {
  json e = {{"code", StatusCodeName(st.code())}, {"message", st.message()}};
  if (!st.field().empty()) e["field"] = st.field();
  return JsonText(json{{"error", e}});
}

Response ErrorResponse(const Status& st) {
  Response r;
  r.status = HttpStatusFor(st.code());
  r.body = ErrorBody(st);
  return r;
}

Status StatusFromResponse(int http_status, const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("error") && j["error"].is_object()) {
    const json& e = j["error"];
    std::string code = e.value("code", "");
    std::string msg = e.value("message", "");
    std::string field = e.value("field", "");
    for (int c = 1; c <= static_cast<int>(StatusCode::kUnimplemented); ++c) {
      auto sc = static_cast<StatusCode>(c);
      if (code == StatusCodeName(sc)) return Status(sc, msg, field);
    }
  }
  StatusCode sc = StatusCode::kInternal;
  if (http_status == 400) sc = StatusCode::kInvalidArgument;
  else if (http_status == 403) sc = StatusCode::kPermissionDenied;
  else if (http_status == 404) sc = StatusCode::kNotFound;
  else if (http_status == 409) sc = StatusCode::kFailedPrecondition;
  else if (http_status == 413) sc = StatusCode::kResourceExhausted;
  else if (http_status == 503) sc = StatusCode::kUnavailable;
  return Status(sc, "HTTP " + std::to_string(http_status) + ": " + body.substr(0, 300));
}

namespace {
std::string PercentDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

template <typename T>
json Opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}
template <typename T>
std::optional<T> ReadOpt(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return j[key].get<T>();
}
json OptTime(const std::optional<Timestamp>& t) { return t ? json(FormatTime(*t)) : json(nullptr); }

std::optional<Timestamp> ReadOptTime(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  auto t = ParseTime(j[key].get<std::string>());
  if (!t.ok()) return std::nullopt;
  return *t;
}
}  // namespace

std::string JsonText(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

StatusOr<int64_t> ParseIntParam(const std::string& name, const std::string& text, int64_t min, int64_t max) {
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  bool digits = !text.empty() && (std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '-');
  if (!digits || *end != '\0' || errno == ERANGE || v < min || v > max)
    return Status(StatusCode::kInvalidArgument,
                  "query parameter " + name + "='" + text + "' is not accepted; expected an integer from " +
                      std::to_string(min) + " to " + std::to_string(max),
                  name);
  return static_cast<int64_t>(v);
}

StatusOr<std::optional<int64_t>> IntQuery(const Target& t, const std::string& name, int64_t min, int64_t max) {
  auto it = t.query.find(name);
  if (it == t.query.end() || it->second.empty()) return std::optional<int64_t>();
  ASSIGN_OR_RETURN(int64_t v, ParseIntParam(name, it->second, min, max));
  return std::optional<int64_t>(v);
}

Target ParseTarget(const std::string& target) {
  Target t;
  size_t q = target.find('?');
  t.path = target.substr(0, q);
  if (q == std::string::npos) return t;
  std::string qs = target.substr(q + 1);
  size_t start = 0;
  while (start <= qs.size()) {
    size_t amp = qs.find('&', start);
    if (amp == std::string::npos) amp = qs.size();
    std::string kv = qs.substr(start, amp - start);
    if (!kv.empty()) {
      size_t eq = kv.find('=');
      std::string k = PercentDecode(kv.substr(0, eq));
      std::string v = eq == std::string::npos ? "" : PercentDecode(kv.substr(eq + 1));
      t.query[k] = v;
    }
    start = amp + 1;
  }
  return t;
}

json JobToJson(const JobRecord& j, bool with_spec) {
  json out = {
      {"id", j.id},
      {"name", j.name},
      {"state", JobStateName(j.state)},
      {"reason", j.reason},
      {"policy", j.policy},
      {"owner_uid", j.owner_uid},
      {"submitted_at", FormatTime(j.submitted)},
      {"not_before", OptTime(j.not_before)},
      {"deadline", OptTime(j.deadline)},
      {"planned_start", OptTime(j.planned_start)},
      {"started_at", OptTime(j.started)},
      {"finished_at", OptTime(j.finished)},
      {"attempts", j.attempts},
      {"exit_status", j.exit_status ? json(*j.exit_status) : json(nullptr)},
      {"error", j.error},
      {"cancel_requested", j.cancel_requested},
      {"run_dir", j.run_dir},
      {"baseline_id", j.baseline_id ? json(*j.baseline_id) : json(nullptr)},
      {"site", j.site},
      {"slurm_job_id", j.slurm_job_id ? json(*j.slurm_job_id) : json(nullptr)},
  };
  auto progress = json::parse(j.progress, nullptr, false);
  out["progress"] = (j.progress.empty() || progress.is_discarded()) ? json(nullptr) : progress;
  if (with_spec) out["spec"] = j.spec_text;
  return out;
}

StatusOr<JobRecord> JobFromJson(const json& j) {
  try {
    JobRecord r;
    r.id = j.at("id").get<int64_t>();
    r.name = j.at("name").get<std::string>();
    if (!ParseJobState(j.at("state").get<std::string>(), &r.state))
      return InvalidArgument("unknown job state in response");
    r.reason = j.value("reason", "");
    r.policy = j.value("policy", "");
    r.owner_uid = j.value("owner_uid", 0u);
    auto sub = ReadOptTime(j, "submitted_at");
    r.submitted = sub.value_or(Timestamp{});
    r.not_before = ReadOptTime(j, "not_before");
    r.deadline = ReadOptTime(j, "deadline");
    r.planned_start = ReadOptTime(j, "planned_start");
    r.started = ReadOptTime(j, "started_at");
    r.finished = ReadOptTime(j, "finished_at");
    r.attempts = j.value("attempts", int64_t{0});
    if (j.contains("exit_status") && !j["exit_status"].is_null())
      r.exit_status = j["exit_status"].get<int64_t>();
    r.error = j.value("error", "");
    r.cancel_requested = j.value("cancel_requested", false);
    r.run_dir = j.value("run_dir", "");
    if (j.contains("baseline_id") && j["baseline_id"].is_number_integer())
      r.baseline_id = j["baseline_id"].get<int64_t>();
    r.site = j.value("site", "");
    if (j.contains("slurm_job_id") && j["slurm_job_id"].is_number_integer())
      r.slurm_job_id = j["slurm_job_id"].get<int64_t>();
    if (j.contains("progress") && !j["progress"].is_null()) r.progress = j["progress"].dump();
    r.spec_text = j.value("spec", "");
    return r;
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("malformed job in response: ") + e.what());
  }
}

json EventToJson(const JobEvent& e) {
  return {{"id", e.id},
          {"job_id", e.job_id},
          {"at", FormatTime(e.at)},
          {"from", e.from_state.empty() ? json(nullptr) : json(e.from_state)},
          {"to", e.to_state},
          {"reason", e.reason}};
}

json EpochToJson(const EpochRecord& e) {
  return {{"epoch", e.epoch},
          {"attempt", e.attempt},
          {"at", FormatTime(e.at)},
          {"train_loss", e.train_loss},
          {"test_loss", e.test_loss},
          {"test_accuracy", e.test_accuracy},
          {"samples", e.samples},
          {"samples_per_s", e.samples_per_s},
          {"wall_s", e.wall_s},
          {"lr", e.lr},
          {"peak_memory_bytes", e.peak_memory_bytes},
          {"memory_added_bytes", Opt(e.memory_added_bytes)},
          {"memory_method", e.memory_method},
          {"energy",
           {{"cpu_kwh", e.cpu_kwh},
            {"gpu_kwh", e.gpu_kwh},
            {"ram_kwh", e.ram_kwh},
            {"energy_kwh", e.energy_kwh},
            {"cpu_w", e.cpu_w},
            {"gpu_w", e.gpu_w},
            {"ram_w", e.ram_w},
            {"seconds", e.energy_s ? json(*e.energy_s) : json(nullptr)},
            {"cpu_method", e.cpu_method},
            {"gpu_method", e.gpu_method},
            {"ram_method", e.ram_method},
            {"tracking_mode", e.tracking_mode.empty() ? "machine" : e.tracking_mode},
            {"gpu_power_limit_w", e.gpu_power_limit_w ? json(*e.gpu_power_limit_w) : json(nullptr)}}},
          {"gco2_per_kwh", e.gco2_per_kwh ? json(*e.gco2_per_kwh) : json(nullptr)},
          {"kg_co2", e.kg_co2 ? json(*e.kg_co2) : json(nullptr)},
          {"intensity_source", e.intensity_source},
          {"zone", e.zone},
          {"host", json::parse(protocol::EncodeHost(e.host))}};
}

StatusOr<EpochRecord> EpochFromJson(const json& j) {
  try {
    EpochRecord e;
    e.epoch = j.at("epoch").get<int64_t>();
    e.attempt = j.value("attempt", int64_t{0});
    e.at = ReadOptTime(j, "at").value_or(Timestamp{});
    e.train_loss = j.value("train_loss", 0.0);
    e.test_loss = j.value("test_loss", 0.0);
    e.test_accuracy = j.value("test_accuracy", 0.0);
    e.samples = j.value("samples", int64_t{0});
    e.samples_per_s = j.value("samples_per_s", 0.0);
    e.wall_s = j.value("wall_s", 0.0);
    e.lr = j.value("lr", 0.0);
    e.peak_memory_bytes = j.value("peak_memory_bytes", int64_t{0});
    e.memory_added_bytes = ReadOpt<int64_t>(j, "memory_added_bytes");
    e.memory_method = j.value("memory_method", "");
    // The worker and the API both nest the energy figures under "energy".
    if (auto en = j.find("energy"); en != j.end() && en->is_object()) {
      e.cpu_kwh = en->value("cpu_kwh", 0.0);
      e.gpu_kwh = en->value("gpu_kwh", 0.0);
      e.ram_kwh = en->value("ram_kwh", 0.0);
      e.energy_kwh = en->value("energy_kwh", e.cpu_kwh + e.gpu_kwh + e.ram_kwh);
      e.cpu_w = en->value("cpu_w", 0.0);
      e.gpu_w = en->value("gpu_w", 0.0);
      e.ram_w = en->value("ram_w", 0.0);
      if (auto sec = en->find("seconds"); sec != en->end() && sec->is_number()) e.energy_s = sec->get<double>();
      e.cpu_method = en->value("cpu_method", "");
      e.gpu_method = en->value("gpu_method", "");
      e.ram_method = en->value("ram_method", "");
      e.tracking_mode = en->value("tracking_mode", "");
      if (auto l = en->find("gpu_power_limit_w"); l != en->end() && l->is_number()) e.gpu_power_limit_w = l->get<double>();
    }
    if (j.contains("gco2_per_kwh") && j["gco2_per_kwh"].is_number()) e.gco2_per_kwh = j["gco2_per_kwh"].get<double>();
    if (j.contains("kg_co2") && j["kg_co2"].is_number()) e.kg_co2 = j["kg_co2"].get<double>();
    e.intensity_source = j.value("intensity_source", "");
    e.zone = j.value("zone", "");
    if (auto h = j.find("host"); h != j.end() && h->is_object()) {
      auto host = protocol::DecodeHost(h->dump());
      if (!host.ok()) return InvalidArgument("malformed epoch in response: " + host.status().message());
      e.host = *host;
    }
    return e;
  } catch (const json::exception& ex) {
    return InvalidArgument(std::string("malformed epoch in response: ") + ex.what());
  }
}

StatusOr<JobEvent> EventFromJson(const json& j) {
  try {
    JobEvent e;
    e.id = j.at("id").get<int64_t>();
    e.job_id = j.at("job_id").get<int64_t>();
    e.at = ReadOptTime(j, "at").value_or(Timestamp{});
    if (!j.at("from").is_null()) e.from_state = j["from"].get<std::string>();
    e.to_state = j.at("to").get<std::string>();
    e.reason = j.value("reason", "");
    return e;
  } catch (const json::exception& ex) {
    return InvalidArgument(std::string("malformed event in response: ") + ex.what());
  }
}

json IntensityPointToJson(const IntensityPoint& p) {
  return {{"time", FormatTime(p.time)},
          {"period_s", std::chrono::duration_cast<std::chrono::seconds>(p.period).count()},
          {"gco2_per_kwh", p.gco2_per_kwh},
          {"estimated", p.estimated}};
}

StatusOr<IntensityPoint> IntensityPointFromJson(const json& j) {
  try {
    IntensityPoint p;
    ASSIGN_OR_RETURN(p.time, ParseTime(j.at("time").get<std::string>()));
    p.period = std::chrono::seconds(j.at("period_s").get<int64_t>());
    p.gco2_per_kwh = j.at("gco2_per_kwh").get<double>();
    p.estimated = j.value("estimated", false);
    return p;
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("bad intensity point: ") + e.what());
  }
}

json SavingsToJson(const JobSavings& s) {
  json j = {{"zone", s.zone},
            {"computed_at", FormatTime(s.computed_at)},
            {"run_s", std::chrono::duration<double>(s.run_time).count()},
            {"run_mean_gco2_per_kwh", s.run_mean_gco2_per_kwh},
            {"counterfactual_mean_gco2_per_kwh", s.counterfactual_mean_gco2_per_kwh},
            {"saving_pct", s.saving_pct},
            {"energy_kwh", s.energy_kwh ? json(*s.energy_kwh) : json(nullptr)},
            {"saving_kg", s.saving_kg ? json(*s.saving_kg) : json(nullptr)},
            {"note", s.note},
            {"baseline_zone", s.baseline_zone.empty() ? s.zone : s.baseline_zone},
            {"time_saving_pct", s.time_saving_pct},
            {"place_saving_pct", s.place_saving_pct}};
  return j;
}


json RunSummaryToJson(const RunSummary& s) {
  return {{"job_id", s.job_id},
          {"name", s.name},
          {"state", s.state},
          {"policy", s.policy},
          {"epochs", s.epochs},
          {"kg_co2", Opt(s.kg_co2)},
          {"energy_kwh", Opt(s.energy_kwh)},
          {"peak_memory_bytes", Opt(s.peak_memory_bytes)},
          {"memory_added_bytes", Opt(s.memory_added_bytes)},
          {"memory_method", s.memory_method},
          {"final_accuracy", Opt(s.final_accuracy)},
          {"wall_s", Opt(s.wall_s)},
          {"wait_s", Opt(s.wait_s)},
          {"submit_gco2_per_kwh", Opt(s.submit_gco2_per_kwh)},
          {"run_gco2_per_kwh", Opt(s.run_gco2_per_kwh)}};
}

StatusOr<RunSummary> RunSummaryFromJson(const json& j) {
  try {
    RunSummary s;
    s.job_id = j.at("job_id").get<int64_t>();
    s.name = j.value("name", "");
    s.state = j.value("state", "");
    s.policy = j.value("policy", "");
    s.epochs = j.value("epochs", int64_t{0});
    s.kg_co2 = ReadOpt<double>(j, "kg_co2");
    s.energy_kwh = ReadOpt<double>(j, "energy_kwh");
    s.peak_memory_bytes = ReadOpt<int64_t>(j, "peak_memory_bytes");
    s.memory_added_bytes = ReadOpt<int64_t>(j, "memory_added_bytes");
    s.memory_method = j.value("memory_method", "");
    s.final_accuracy = ReadOpt<double>(j, "final_accuracy");
    s.wall_s = ReadOpt<double>(j, "wall_s");
    s.wait_s = ReadOpt<double>(j, "wait_s");
    s.submit_gco2_per_kwh = ReadOpt<double>(j, "submit_gco2_per_kwh");
    s.run_gco2_per_kwh = ReadOpt<double>(j, "run_gco2_per_kwh");
    return s;
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("malformed run summary in response: ") + e.what());
  }
}

json CompareRowsToJson(const std::vector<CompareRow>& rows) {
  json out = json::array();
  for (const CompareRow& r : rows)
    out.push_back({{"key", r.key},
                   {"label", r.label},
                   {"unit", r.unit},
                   {"baseline", Opt(r.baseline)},
                   {"candidate", Opt(r.candidate)},
                   {"difference", Opt(r.diff())},
                   {"percent", Opt(r.pct())}});
  return out;
}

}  // namespace carbon::api

#include "daemon/store/sqlite_job_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/time_util.h"
#include "daemon/store/migrate.h"

namespace carbon {
namespace {

constexpr const char* kColumns =
    "id, name, spec, policy, owner_uid, state, reason, submitted_at, not_before, deadline, "
    "planned_start, started_at, finished_at, attempts, exit_status, error, progress, "
    "cancel_requested, run_dir, baseline_id, site, slurm_job_id, site_token, events_offset";

std::optional<std::string> OptTime(const std::optional<Timestamp>& t) {
  if (!t) return std::nullopt;
  return FormatTime(*t);
}

std::optional<Timestamp> ReadTime(const sql::Statement& st, int col) {
  auto s = st.ColumnOptText(col);
  if (!s) return std::nullopt;
  auto t = ParseTime(*s);
  if (!t.ok()) return std::nullopt;
  return *t;
}

JobRecord ReadJob(const sql::Statement& st) {
  JobRecord j;
  j.id = st.ColumnInt(0);
  j.name = st.ColumnText(1);
  j.spec_text = st.ColumnText(2);
  j.policy = st.ColumnText(3);
  j.owner_uid = static_cast<uint32_t>(st.ColumnInt(4));
  ParseJobState(st.ColumnText(5), &j.state);
  j.reason = st.ColumnText(6);
  j.submitted = ReadTime(st, 7).value_or(Timestamp{});
  j.not_before = ReadTime(st, 8);
  j.deadline = ReadTime(st, 9);
  j.planned_start = ReadTime(st, 10);
  j.started = ReadTime(st, 11);
  j.finished = ReadTime(st, 12);
  j.attempts = st.ColumnInt(13);
  j.exit_status = st.ColumnOptInt(14);
  j.error = st.ColumnText(15);
  j.progress = st.ColumnText(16);
  j.cancel_requested = st.ColumnInt(17) != 0;
  j.run_dir = st.ColumnText(18);
  j.baseline_id = st.ColumnOptInt(19);
  j.site = st.ColumnText(20);
  j.slurm_job_id = st.ColumnOptInt(21);
  j.site_token = st.ColumnText(22);
  j.events_offset = st.ColumnInt(23);
  return j;
}

}  // namespace

StatusOr<std::unique_ptr<SqliteJobStore>> SqliteJobStore::Open(const std::string& path,
                                                               sql::OpenOptions options) {
  ASSIGN_OR_RETURN(auto db, sql::Database::Open(path, options));
  RETURN_IF_ERROR(sql::Migrate(*db, EmbeddedMigrations()).status());
  return std::unique_ptr<SqliteJobStore>(new SqliteJobStore(std::move(db)));
}

Status SqliteJobStore::AddEvent(int64_t id, const std::optional<std::string>& from,
                                const std::string& to, const std::string& reason, Timestamp at) {
  ASSIGN_OR_RETURN(auto st, db_->Prepare("INSERT INTO job_events (job_id, at, from_state, to_state, "
                                         "reason) VALUES (?, ?, ?, ?, ?)"));
  return st.Bind(1, id).Bind(2, FormatTime(at)).Bind(3, from).Bind(4, to).Bind(5, reason).Run();
}

StatusOr<int64_t> SqliteJobStore::Insert(const NewJob& job, const Transition* plan) {
  sql::Transaction tx(*db_);
  RETURN_IF_ERROR(tx.Begin());
  ASSIGN_OR_RETURN(int64_t id, InsertInTransaction(job, plan));
  RETURN_IF_ERROR(tx.Commit());
  return id;
}

StatusOr<std::vector<int64_t>> SqliteJobStore::InsertAll(
    const std::vector<std::pair<NewJob, Transition>>& jobs) {
  sql::Transaction tx(*db_);
  RETURN_IF_ERROR(tx.Begin());
  std::vector<int64_t> ids;
  for (const auto& [job, plan] : jobs) {
    if (job.baseline_is_previous && ids.empty()) return Internal("a baseline link with no job before it");
    NewJob row = job;
    if (job.baseline_is_previous) row.baseline_id = ids.back();
    ASSIGN_OR_RETURN(int64_t id, InsertInTransaction(row, &plan));  // error: rolled back
    ids.push_back(id);
  }
  RETURN_IF_ERROR(tx.Commit());
  return ids;
}

StatusOr<int64_t> SqliteJobStore::InsertInTransaction(const NewJob& job, const Transition* plan) {
  ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "INSERT INTO jobs (name, spec, policy, owner_uid, state, reason, submitted_at, not_before, "
      "deadline, signature, baseline_id, site) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?)"));
  RETURN_IF_ERROR(st.Bind(1, job.name)
                      .Bind(2, job.spec_text)
                      .Bind(3, job.policy)
                      .Bind(4, static_cast<int64_t>(job.owner_uid))
                      .Bind(5, job.reason)
                      .Bind(6, FormatTime(job.submitted))
                      .Bind(7, OptTime(job.not_before))
                      .Bind(8, OptTime(job.deadline))
                      .Bind(9, job.signature)
                      .Bind(10, job.baseline_id)
                      .Bind(11, job.site.empty() ? std::nullopt : std::optional<std::string>(job.site))
                      .Run());
  int64_t id = db_->LastInsertRowId();
  RETURN_IF_ERROR(AddEvent(id, std::nullopt, "queued", job.reason, job.submitted));
  if (plan) RETURN_IF_ERROR(ApplyInTransaction(id, *plan));
  return id;
}

StatusOr<JobRecord> SqliteJobStore::Get(int64_t id) {
  ASSIGN_OR_RETURN(auto st,
                   db_->Prepare(std::string("SELECT ") + kColumns + " FROM jobs WHERE id = ?"));
  st.Bind(1, id);
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return NotFound("no job with id " + std::to_string(id));
  return ReadJob(st);
}

StatusOr<std::vector<JobRecord>> SqliteJobStore::List(const JobFilter& f) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM jobs WHERE id > ?" +
                    (f.state ? " AND state = ?" : "") + " ORDER BY id LIMIT ?";
  ASSIGN_OR_RETURN(auto st, db_->Prepare(sql));
  int i = 1;
  st.Bind(i++, f.after_id);
  if (f.state) st.Bind(i++, std::string(JobStateName(*f.state)));
  st.Bind(i++, f.limit);
  std::vector<JobRecord> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(ReadJob(st));
  }
  return out;
}

StatusOr<std::vector<JobStore::WaitingJob>> SqliteJobStore::ListWaiting(int64_t after_id, int64_t limit) {
  // The jobs_state index (state, id) gives them in id order.
  ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT id, planned_start FROM jobs WHERE state = 'waiting' AND id > ? "
                                         "ORDER BY id LIMIT ?"));
  st.Bind(1, after_id).Bind(2, limit);
  std::vector<WaitingJob> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    WaitingJob w;
    w.id = st.ColumnInt(0);
    w.planned_start = ReadTime(st, 1);
    out.push_back(w);
  }
  return out;
}

Status SqliteJobStore::Apply(int64_t id, const Transition& t) {
  sql::Transaction tx(*db_);
  RETURN_IF_ERROR(tx.Begin());
  RETURN_IF_ERROR(ApplyInTransaction(id, t));
  return tx.Commit();
}

std::vector<Status> SqliteJobStore::ApplyAll(
    const std::vector<std::pair<int64_t, Transition>>& ts) {
  std::vector<Status> out;
  sql::Transaction tx(*db_);
  if (Status st = tx.Begin(); !st.ok()) return std::vector<Status>(ts.size(), st);
  for (const auto& [id, t] : ts) out.push_back(ApplyInTransaction(id, t));
  if (Status st = tx.Commit(); !st.ok()) return std::vector<Status>(ts.size(), st);
  return out;
}

Status SqliteJobStore::ApplyInTransaction(int64_t id, const Transition& t) {
  ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "UPDATE jobs SET state = ?, reason = ?, "
      "planned_start = COALESCE(?, planned_start), started_at = COALESCE(?, started_at), "
      "finished_at = COALESCE(?, finished_at), attempts = attempts + ?, "
      "exit_status = COALESCE(?, exit_status), error = COALESCE(?, error), "
      "run_dir = COALESCE(?, run_dir), "
      "cancel_requested = CASE WHEN ? THEN 0 ELSE cancel_requested END "
      "WHERE id = ? AND state = ?"));
  RETURN_IF_ERROR(st.Bind(1, std::string(JobStateName(t.to)))
                      .Bind(2, t.reason)
                      .Bind(3, OptTime(t.planned_start))
                      .Bind(4, OptTime(t.started))
                      .Bind(5, OptTime(t.finished))
                      .Bind(6, int64_t{t.count_attempt ? 1 : 0})
                      .Bind(7, t.exit_status)
                      .Bind(8, t.error)
                      .Bind(9, t.run_dir)
                      .Bind(10, int64_t{t.clear_cancel_request ? 1 : 0})
                      .Bind(11, id)
                      .Bind(12, std::string(JobStateName(t.from)))
                      .Run());
  if (db_->Changes() != 1) {
    auto cur = Get(id);
    if (!cur.ok()) return cur.status();
    return FailedPrecondition("job " + std::to_string(id) + " is " + JobStateName(cur->state) +
                              ", not " + JobStateName(t.from));
  }
  return AddEvent(id, std::string(JobStateName(t.from)), JobStateName(t.to), t.reason, t.at);
}

Status SqliteJobStore::UpdateReasons(const std::vector<ReasonUpdate>& updates) {
  if (updates.empty()) return Status();
  // Reasons and planned starts are decided again after a crash.
  sql::RelaxedCommits relaxed(*db_);
  sql::Transaction tx(*db_);
  RETURN_IF_ERROR(tx.Begin());
  for (const ReasonUpdate& u : updates) {
    ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "UPDATE jobs SET reason = ?, planned_start = COALESCE(?, planned_start) "
        "WHERE id = ? AND state = ?"));
    RETURN_IF_ERROR(st.Bind(1, u.reason)
                        .Bind(2, OptTime(u.planned_start))
                        .Bind(3, u.id)
                        .Bind(4, std::string(JobStateName(u.state)))
                        .Run());
  }
  return tx.Commit();
}

Status SqliteJobStore::SetSite(int64_t id, const std::string& site) {
  ASSIGN_OR_RETURN(auto st, db_->Prepare("UPDATE jobs SET site = ?, slurm_job_id = NULL, site_token = NULL, "
                                         "events_offset = 0 WHERE id = ? AND state = 'waiting'"));
  RETURN_IF_ERROR(st.Bind(1, site).Bind(2, id).Run());
  if (db_->Changes() != 1) return FailedPrecondition("job " + std::to_string(id) + " is not waiting");
  return Status();
}

Status SqliteJobStore::SetSiteJob(int64_t id, const SiteJobRecord& s) {
  ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "UPDATE jobs SET slurm_job_id = ?, site_token = ?, events_offset = ? WHERE id = ?"));
  RETURN_IF_ERROR(st.Bind(1, s.slurm_job_id ? std::optional<int64_t>(s.slurm_job_id) : std::nullopt)
                      .Bind(2, s.token.empty() ? std::nullopt : std::optional<std::string>(s.token))
                      .Bind(3, s.events_offset)
                      .Bind(4, id)
                      .Run());
  if (db_->Changes() != 1) return NotFound("no job with id " + std::to_string(id));
  return Status();
}

Status SqliteJobStore::SetProgress(int64_t id, const std::string& progress_json) {
  ASSIGN_OR_RETURN(auto st, db_->Prepare("UPDATE jobs SET progress = ? WHERE id = ?"));
  return st.Bind(1, progress_json).Bind(2, id).Run();
}

Status SqliteJobStore::RequestCancel(int64_t id) {
  ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND state = 'running'"));
  RETURN_IF_ERROR(st.Bind(1, id).Run());
  if (db_->Changes() != 1) return FailedPrecondition("job " + std::to_string(id) + " is not running");
  return Status();
}

StatusOr<std::vector<JobEvent>> SqliteJobStore::Events(int64_t id) {
  ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT id, job_id, at, from_state, to_state, reason FROM job_events WHERE job_id = ? "
      "ORDER BY id"));
  st.Bind(1, id);
  std::vector<JobEvent> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    JobEvent e;
    e.id = st.ColumnInt(0);
    e.job_id = st.ColumnInt(1);
    e.at = ReadTime(st, 2).value_or(Timestamp{});
    e.from_state = st.ColumnText(3);
    e.to_state = st.ColumnText(4);
    e.reason = st.ColumnText(5);
    out.push_back(std::move(e));
  }
  return out;
}

Status SqliteJobStore::RecordEpoch(const EpochRecord& e) {
  ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "INSERT OR REPLACE INTO epochs (job_id, epoch, attempt, at, train_loss, test_loss, "
      "test_accuracy, samples, samples_per_s, wall_s, lr, peak_memory_bytes, memory_method, "
      "cpu_kwh, gpu_kwh, ram_kwh, energy_kwh, cpu_w, gpu_w, ram_w, cpu_method, gpu_method, ram_method, "
      "gco2_per_kwh, kg_co2, intensity_source, zone, memory_added_bytes, energy_s, host_cpu_model, "
      "host_cpu_count, host_gpu_model, host_gpu_count, host_ram_total_gib, host_os, cpu_utilization_pct, "
      "ram_utilization_pct, ram_used_gib, tracking_mode, gpu_power_limit_w) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
      "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  st.Bind(1, e.job_id)
      .Bind(2, e.epoch)
      .Bind(3, e.attempt)
      .Bind(4, FormatTime(e.at))
      .Bind(5, e.train_loss)
      .Bind(6, e.test_loss)
      .Bind(7, e.test_accuracy)
      .Bind(8, e.samples)
      .Bind(9, e.samples_per_s)
      .Bind(10, e.wall_s)
      .Bind(11, e.lr)
      .Bind(12, e.peak_memory_bytes)
      .Bind(13, e.memory_method)
      .Bind(14, e.cpu_kwh)
      .Bind(15, e.gpu_kwh)
      .Bind(16, e.ram_kwh)
      .Bind(17, e.energy_kwh)
      .Bind(18, e.cpu_w)
      .Bind(19, e.gpu_w)
      .Bind(20, e.ram_w)
      .Bind(21, e.cpu_method)
      .Bind(22, e.gpu_method)
      .Bind(23, e.ram_method);
  st.Bind(24, e.gco2_per_kwh).Bind(25, e.kg_co2).Bind(28, e.memory_added_bytes).Bind(29, e.energy_s);
  auto text = [](const std::string& v) { return v.empty() ? std::nullopt : std::optional<std::string>(v); };
  const EpochHost& h = e.host;
  st.Bind(30, text(h.cpu_model))
      .Bind(31, h.cpu_count)
      .Bind(32, text(h.gpu_model))
      .Bind(33, h.gpu_count)
      .Bind(34, h.ram_total_gib)
      .Bind(35, text(h.os))
      .Bind(36, h.cpu_utilization_pct)
      .Bind(37, h.ram_utilization_pct)
      .Bind(38, h.ram_used_gib)
      .Bind(39, text(e.tracking_mode))
      .Bind(40, e.gpu_power_limit_w);
  return st.Bind(26, e.intensity_source).Bind(27, e.zone).Run();
}

StatusOr<std::vector<EpochRecord>> SqliteJobStore::Epochs(int64_t id) {
  ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT job_id, epoch, attempt, at, train_loss, test_loss, test_accuracy, samples, "
      "samples_per_s, wall_s, lr, peak_memory_bytes, memory_method, cpu_kwh, gpu_kwh, ram_kwh, energy_kwh, "
      "cpu_w, gpu_w, ram_w, cpu_method, gpu_method, ram_method, gco2_per_kwh, kg_co2, intensity_source, zone, "
      "memory_added_bytes, energy_s, host_cpu_model, host_cpu_count, host_gpu_model, host_gpu_count, "
      "host_ram_total_gib, host_os, cpu_utilization_pct, ram_utilization_pct, ram_used_gib, tracking_mode, "
      "gpu_power_limit_w FROM epochs WHERE job_id = ? ORDER BY epoch"));
  st.Bind(1, id);
  std::vector<EpochRecord> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    EpochRecord e;
    e.job_id = st.ColumnInt(0);
    e.epoch = st.ColumnInt(1);
    e.attempt = st.ColumnInt(2);
    e.at = ReadTime(st, 3).value_or(Timestamp{});
    e.train_loss = st.ColumnDouble(4);
    e.test_loss = st.ColumnDouble(5);
    e.test_accuracy = st.ColumnDouble(6);
    e.samples = st.ColumnInt(7);
    e.samples_per_s = st.ColumnDouble(8);
    e.wall_s = st.ColumnDouble(9);
    e.lr = st.ColumnDouble(10);
    e.peak_memory_bytes = st.ColumnInt(11);
    e.memory_method = st.ColumnText(12);
    e.cpu_kwh = st.ColumnDouble(13);
    e.gpu_kwh = st.ColumnDouble(14);
    e.ram_kwh = st.ColumnDouble(15);
    e.energy_kwh = st.ColumnDouble(16);
    e.cpu_w = st.ColumnDouble(17);
    e.gpu_w = st.ColumnDouble(18);
    e.ram_w = st.ColumnDouble(19);
    e.cpu_method = st.ColumnText(20);
    e.gpu_method = st.ColumnText(21);
    e.ram_method = st.ColumnText(22);
    e.gco2_per_kwh = st.ColumnOptDouble(23);
    e.kg_co2 = st.ColumnOptDouble(24);
    e.intensity_source = st.ColumnText(25);
    e.zone = st.ColumnText(26);
    e.memory_added_bytes = st.ColumnOptInt(27);
    e.energy_s = st.ColumnOptDouble(28);
    EpochHost& h = e.host;
    h.cpu_model = st.ColumnText(29);
    h.cpu_count = st.ColumnOptInt(30);
    h.gpu_model = st.ColumnText(31);
    h.gpu_count = st.ColumnOptInt(32);
    h.ram_total_gib = st.ColumnOptDouble(33);
    h.os = st.ColumnText(34);
    h.cpu_utilization_pct = st.ColumnOptDouble(35);
    h.ram_utilization_pct = st.ColumnOptDouble(36);
    h.ram_used_gib = st.ColumnOptDouble(37);
    e.tracking_mode = st.ColumnText(38);
    e.gpu_power_limit_w = st.ColumnOptDouble(39);
    out.push_back(std::move(e));
  }
  return out;
}

StatusOr<std::map<JobState, int64_t>> SqliteJobStore::CountByState() {
  ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT state, COUNT(*) FROM jobs GROUP BY state"));
  std::map<JobState, int64_t> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    JobState s;
    if (ParseJobState(st.ColumnText(0), &s)) out[s] = st.ColumnInt(1);
  }
  return out;
}

StatusOr<JobStore::Totals> SqliteJobStore::TotalsForMetrics() {
  Totals t;
  ASSIGN_OR_RETURN(auto w, db_->Prepare(
      "SELECT COALESCE(SUM((julianday(started_at) - julianday(submitted_at)) * 86400.0), 0), COUNT(*) "
      "FROM jobs WHERE started_at IS NOT NULL"));
  ASSIGN_OR_RETURN(bool row, w.Step());
  if (row) {
    t.wait_seconds_sum = w.ColumnDouble(0);
    t.started = w.ColumnInt(1);
  }
  ASSIGN_OR_RETURN(auto e, db_->Prepare("SELECT COALESCE(SUM(cpu_kwh), 0), COALESCE(SUM(gpu_kwh), 0), "
                                        "COALESCE(SUM(ram_kwh), 0), COALESCE(SUM(kg_co2), 0) FROM epochs"));
  ASSIGN_OR_RETURN(row, e.Step());
  if (row) {
    t.cpu_kwh = e.ColumnDouble(0);
    t.gpu_kwh = e.ColumnDouble(1);
    t.ram_kwh = e.ColumnDouble(2);
    t.kg_co2 = e.ColumnDouble(3);
  }
  ASSIGN_OR_RETURN(auto s, db_->Prepare("SELECT COALESCE(SUM(saving_kg), 0) FROM job_savings"));
  ASSIGN_OR_RETURN(row, s.Step());
  if (row) t.saved_kg = s.ColumnDouble(0);
  return t;
}

StatusOr<std::vector<JobStore::DayTotals>> SqliteJobStore::DailyTotals(const std::string& from_day) {
  ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT day, SUM(kwh), SUM(kg), SUM(saved), SUM(n_epochs), SUM(n_saved) FROM ("
      " SELECT substr(at, 1, 10) AS day, COALESCE(energy_kwh, 0) AS kwh, COALESCE(kg_co2, 0) AS kg,"
      "        0 AS saved, 1 AS n_epochs, 0 AS n_saved FROM epochs WHERE substr(at, 1, 10) >= ?1"
      " UNION ALL"
      " SELECT substr(computed_at, 1, 10), 0, 0, COALESCE(saving_kg, 0), 0, 1 FROM job_savings"
      " WHERE substr(computed_at, 1, 10) >= ?1) GROUP BY day ORDER BY day"));
  st.Bind(1, from_day);
  std::vector<DayTotals> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back({st.ColumnText(0), st.ColumnDouble(1), st.ColumnDouble(2), st.ColumnDouble(3), st.ColumnInt(4),
                   st.ColumnInt(5)});
  }
  return out;
}

Status SqliteJobStore::Ping() {
  ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT 1"));
  RETURN_IF_ERROR(st.Run());
  // Reads work, but the last write failed (locked, disk full, read-only).
  return db_->write_failure();
}

StatusOr<RunTimes> SqliteJobStore::TypicalRunTime(const std::string& signature) {
  ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT (julianday(finished_at) - julianday(started_at)) * 86400.0 FROM jobs "
      "WHERE signature = ? AND state = 'succeeded' AND started_at IS NOT NULL AND finished_at IS NOT NULL "
      "ORDER BY id DESC LIMIT 20"));
  st.Bind(1, signature);
  std::vector<double> secs;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    secs.push_back(st.ColumnDouble(0));
  }
  RunTimes r;
  r.count = static_cast<int64_t>(secs.size());
  if (!secs.empty()) {
    std::sort(secs.begin(), secs.end());
    r.median = Duration(static_cast<int64_t>(secs[secs.size() / 2] * 1000.0));
  }
  return r;
}

Status SqliteJobStore::RecordSavings(const JobSavings& s) {
  ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "INSERT OR REPLACE INTO job_savings (job_id, zone, computed_at, run_s, run_mean_gco2_per_kwh, "
      "counterfactual_mean_gco2_per_kwh, saving_pct, energy_kwh, saving_kg, note, baseline_zone, time_saving_pct, "
      "place_saving_pct) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  st.Bind(1, s.job_id)
      .Bind(2, s.zone)
      .Bind(3, FormatTime(s.computed_at))
      .Bind(4, std::chrono::duration<double>(s.run_time).count())
      .Bind(5, s.run_mean_gco2_per_kwh)
      .Bind(6, s.counterfactual_mean_gco2_per_kwh)
      .Bind(7, s.saving_pct);
  if (s.energy_kwh) st.Bind(8, *s.energy_kwh); else st.BindNull(8);
  if (s.saving_kg) st.Bind(9, *s.saving_kg); else st.BindNull(9);
  return st.Bind(10, s.note).Bind(11, s.baseline_zone).Bind(12, s.time_saving_pct).Bind(13, s.place_saving_pct).Run();
}

StatusOr<std::optional<JobSavings>> SqliteJobStore::Savings(int64_t id) {
  ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT zone, computed_at, run_s, run_mean_gco2_per_kwh, counterfactual_mean_gco2_per_kwh, saving_pct, "
      "energy_kwh, saving_kg, note, baseline_zone, time_saving_pct, place_saving_pct FROM job_savings "
      "WHERE job_id = ?"));
  st.Bind(1, id);
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<JobSavings>();
  JobSavings s;
  s.job_id = id;
  s.zone = st.ColumnText(0);
  s.computed_at = ReadTime(st, 1).value_or(Timestamp{});
  s.run_time = Duration(static_cast<int64_t>(st.ColumnDouble(2) * 1000));
  s.run_mean_gco2_per_kwh = st.ColumnDouble(3);
  s.counterfactual_mean_gco2_per_kwh = st.ColumnDouble(4);
  s.saving_pct = st.ColumnDouble(5);
  if (!st.ColumnIsNull(6)) s.energy_kwh = st.ColumnDouble(6);
  if (!st.ColumnIsNull(7)) s.saving_kg = st.ColumnDouble(7);
  s.note = st.ColumnText(8);
  s.baseline_zone = st.ColumnText(9);
  // Stored before v11: all of it was time.
  s.time_saving_pct = st.ColumnIsNull(10) ? s.saving_pct : st.ColumnDouble(10);
  s.place_saving_pct = st.ColumnIsNull(11) ? 0 : st.ColumnDouble(11);
  return std::optional<JobSavings>(s);
}

}  // namespace carbon

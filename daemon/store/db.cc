#include "daemon/store/db.h"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

namespace carbon::sql {

Statement::Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }

Statement::~Statement() {
  if (stmt_) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Statement& Statement::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
Statement& Statement::Bind(int i, double v) {
  sqlite3_bind_double(stmt_, i, v);
  return *this;
}
Statement& Statement::Bind(int i, const std::string& v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::Bind(int i, const std::optional<std::string>& v) {
  return v ? Bind(i, *v) : BindNull(i);
}
Statement& Statement::Bind(int i, const std::optional<int64_t>& v) {
  return v ? Bind(i, *v) : BindNull(i);
}
Statement& Statement::Bind(int i, const std::optional<double>& v) {
  return v ? Bind(i, *v) : BindNull(i);
}
Statement& Statement::BindNull(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

StatusOr<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) {
    // A write that committed on its own (outside BEGIN ... COMMIT): storage works.
    if (!sqlite3_stmt_readonly(stmt_) && sqlite3_get_autocommit(db_->db_)) db_->ClearWriteFailure();
    return false;
  }
  return db_->LastError("step");
}

Status Statement::Run() {
  for (;;) {
    auto r = Step();
    if (!r.ok()) return r.status();
    if (!*r) return Status();
  }
}

int64_t Statement::ColumnInt(int c) const { return sqlite3_column_int64(stmt_, c); }
double Statement::ColumnDouble(int c) const { return sqlite3_column_double(stmt_, c); }
std::string Statement::ColumnText(int c) const {
  const unsigned char* t = sqlite3_column_text(stmt_, c);
  if (!t) return {};
  return std::string(reinterpret_cast<const char*>(t),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, c)));
}
bool Statement::ColumnIsNull(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
std::optional<std::string> Statement::ColumnOptText(int c) const {
  if (ColumnIsNull(c)) return std::nullopt;
  return ColumnText(c);
}
std::optional<int64_t> Statement::ColumnOptInt(int c) const {
  if (ColumnIsNull(c)) return std::nullopt;
  return ColumnInt(c);
}
std::optional<double> Statement::ColumnOptDouble(int c) const {
  if (ColumnIsNull(c)) return std::nullopt;
  return ColumnDouble(c);
}

StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& path, OpenOptions opt) {
  sqlite3* raw = nullptr;
  int flags = opt.read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  flags |= SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    return Unavailable("cannot open database '" + path + "': " + msg);
  }
  sqlite3_extended_result_codes(raw, 1);
  std::unique_ptr<Database> db(new Database(raw, path));
  sqlite3_busy_timeout(raw, opt.busy_timeout_ms);
  std::string pragmas = "PRAGMA foreign_keys = ON;";
  if (!opt.read_only) {
    pragmas += "PRAGMA journal_mode = WAL;";
    // A checkpoint runs in the commit that takes the WAL past this many
    // pages, on carbond's event loop: 200 pages (800 KB) keep each one to
    // a few ms, where SQLite's 1,000 stalled a request for 10-30 ms.
    pragmas += "PRAGMA wal_autocheckpoint = 200;";
    pragmas += opt.synchronous_full ? "PRAGMA synchronous = FULL;" : "PRAGMA synchronous = NORMAL;";
  }
  RETURN_IF_ERROR(db->Exec(pragmas));
  db->synchronous_full_ = !opt.read_only && opt.synchronous_full;
  return db;
}

RelaxedCommits::RelaxedCommits(Database& db) : db_(db) {
  if (!db_.synchronous_full()) return;
  status_ = db_.Exec("PRAGMA synchronous = NORMAL");
  relaxed_ = status_.ok();
}

RelaxedCommits::~RelaxedCommits() {
  if (!relaxed_) return;
  if (Status st = db_.Exec("PRAGMA synchronous = FULL"); !st.ok())
    spdlog::error("cannot make commits durable again (PRAGMA synchronous = FULL): {}", st.ToString());
}

Database::~Database() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status Database::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    Status st = LastError("exec");
    return st.ok() ? Internal(msg) : st;
  }
  return Status();
}

StatusOr<Statement> Database::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return Statement(this, it->second);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return LastError("prepare '" + sql + "'");
  cache_.emplace(sql, stmt);
  return Statement(this, stmt);
}

int64_t Database::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
int Database::Changes() const { return sqlite3_changes(db_); }
std::string Database::ErrorMessage() const { return sqlite3_errmsg(db_); }

Status Database::LastError(const std::string& what) const {
  int rc = sqlite3_extended_errcode(db_);
  std::string msg = "database " + path_ + ": " + what + ": " + sqlite3_errmsg(db_);
  auto fault = [this](Status st) {
    write_failure_ = st;
    return st;
  };
  switch (rc & 0xff) {
    case SQLITE_OK: return Status();
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return fault(Unavailable(msg + " (another process holds the database lock)"));
    case SQLITE_FULL: return fault(Unavailable(msg + " (disk full: free space on the state directory's file system)"));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return fault(DataLoss(msg));
    case SQLITE_READONLY: return fault(FailedPrecondition(msg + " (database is read-only)"));
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR: return fault(Unavailable(msg));
    case SQLITE_CONSTRAINT: return Status(StatusCode::kFailedPrecondition, msg);
    default: return Internal(msg);
  }
}

Transaction::~Transaction() {
  if (!open_) return;
  // A failed ROLLBACK leaves nothing to undo here: SQLite rolls back an open
  // transaction when the statement or connection ends; say so in the log.
  if (Status st = db_.Exec("ROLLBACK"); !st.ok()) spdlog::warn("rollback failed: {}", st.ToString());
}

Status Transaction::Begin() {
  RETURN_IF_ERROR(db_.Exec("BEGIN IMMEDIATE"));
  open_ = true;
  return Status();
}

Status Transaction::Commit() {
  Status st = db_.Exec("COMMIT");
  if (st.ok()) {
    open_ = false;
    db_.ClearWriteFailure();  // a durable write: storage works again
  }
  return st;
}

}  // namespace carbon::sql

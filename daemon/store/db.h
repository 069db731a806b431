// A small RAII wrapper over SQLite's C API, in the style of Chromium's //sql:
// one long-lived connection, statements prepared once and cached, sqlite3.h
// kept out of this header.
//
// Thread-safety: a Database and its Statements belong to one thread (the
// daemon's event loop). Every connection gets WAL, foreign keys and a busy
// timeout.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace carbon::sql {

class Database;

// A prepared statement borrowed from the cache; reset and unbound when it goes
// out of scope. Bind indexes start at 1, column indexes at 0.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, double value);
  Statement& Bind(int index, const std::string& value);
  Statement& Bind(int index, const char* value) { return Bind(index, std::string(value)); }
  Statement& Bind(int index, const std::optional<std::string>& value);
  Statement& Bind(int index, const std::optional<int64_t>& value);
  Statement& Bind(int index, const std::optional<double>& value);
  Statement& BindNull(int index);

  // Advances one row: true with a row, false when done.
  StatusOr<bool> Step();
  // Steps to completion; for statements that return no rows.
  Status Run();

  int64_t ColumnInt(int col) const;
  double ColumnDouble(int col) const;
  std::string ColumnText(int col) const;
  bool ColumnIsNull(int col) const;
  std::optional<std::string> ColumnOptText(int col) const;
  std::optional<int64_t> ColumnOptInt(int col) const;
  std::optional<double> ColumnOptDouble(int col) const;

 private:
  friend class Database;
  Statement(Database* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Database* db_;
  sqlite3_stmt* stmt_;
};

struct OpenOptions {
  int busy_timeout_ms = 5000;
  bool read_only = false;
  // FULL makes every commit durable in WAL mode (an fsync per commit).
  bool synchronous_full = true;
};

class Database {
 public:
  // Opens (creating when allowed) the database file and applies the pragmas.
  static StatusOr<std::unique_ptr<Database>> Open(const std::string& path, OpenOptions options = {});
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements that return no rows (schema, pragmas).
  Status Exec(const std::string& sql);
  // Returns a cached prepared statement for `sql`; errors are INTERNAL.
  StatusOr<Statement> Prepare(const std::string& sql);

  // Whether commits are durable one by one (OpenOptions::synchronous_full).
  bool synchronous_full() const { return synchronous_full_; }

  int64_t LastInsertRowId() const;
  int Changes() const;
  const std::string& path() const { return path_; }
  std::string ErrorMessage() const;
  // Maps the connection's last error to a Status: BUSY/LOCKED, FULL, IOERR
  // -> UNAVAILABLE (with the cause), CORRUPT -> DATA_LOSS, READONLY ->
  // FAILED_PRECONDITION. A storage fault is remembered (write_failure).
  Status LastError(const std::string& what) const;
  // The storage fault of the last failed write (locked, disk full, read-only,
  // I/O error), until a write succeeds again; OK when there is none. What
  // /v1/health reports as degraded.
  const Status& write_failure() const { return write_failure_; }
  void ClearWriteFailure() { write_failure_ = Status(); }

 private:
  friend class Statement;
  explicit Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
  bool synchronous_full_ = false;
  std::map<std::string, sqlite3_stmt*> cache_;
  mutable Status write_failure_;
};

// While it lives, the connection's commits skip the fsync (synchronous =
// NORMAL; FULL again after): for what carbond fetches or decides again after
// a crash (grid readings and forecasts, waiting jobs' plans), so that no
// fsync of theirs runs on the event loop. The WAL stays consistent, a
// process crash loses nothing, and the next durable commit makes them
// durable too; only a power loss before that may roll them back.
class RelaxedCommits {
 public:
  explicit RelaxedCommits(Database& db);
  ~RelaxedCommits();
  RelaxedCommits(const RelaxedCommits&) = delete;
  RelaxedCommits& operator=(const RelaxedCommits&) = delete;
  // Why commits could not be relaxed (they stay durable); OK otherwise.
  const Status& status() const { return status_; }

 private:
  Database& db_;
  bool relaxed_ = false;
  Status status_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back on destruction unless committed.
class Transaction {
 public:
  explicit Transaction(Database& db) : db_(db) {}
  ~Transaction();
  Status Begin();
  Status Commit();

 private:
  Database& db_;
  bool open_ = false;
};

}  // namespace carbon::sql

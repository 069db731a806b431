#include "daemon/store/migrate.h"

#include <spdlog/spdlog.h>

#include <string>

namespace carbon::sql {

StatusOr<int> SchemaVersion(Database& db) {
  ASSIGN_OR_RETURN(Statement st, db.Prepare("PRAGMA user_version"));
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Internal("PRAGMA user_version returned no row");
  return static_cast<int>(st.ColumnInt(0));
}

StatusOr<int> Migrate(Database& db, const std::vector<Migration>& migrations) {
  int newest = migrations.empty() ? 0 : migrations.back().version;
  ASSIGN_OR_RETURN(int version, SchemaVersion(db));
  if (version > newest) {
    return FailedPrecondition("database " + db.path() + " has schema version " +
                              std::to_string(version) + ", newer than this carbond knows (" +
                              std::to_string(newest) +
                              "); it was written by a newer carbond. Upgrade carbond, or point "
                              "'database' in carbond.yaml at another file. Nothing was changed.");
  }
  for (const Migration& m : migrations) {
    if (m.version <= version) continue;
    // A migration that rebuilds a table (SQLite's 12-step procedure) runs with
    // foreign keys off, so dropping the old table cascades nowhere, and with
    // legacy_alter_table on, so views naming the table survive the rename.
    const bool rebuilds = m.sql.find("-- carbond: rebuilds tables") != std::string::npos;
    struct Pragmas {
      Database& db;
      bool on;
      ~Pragmas() {
        if (!on) return;
        if (Status st = db.Exec("PRAGMA legacy_alter_table = OFF; PRAGMA foreign_keys = ON;"); !st.ok())
          spdlog::error("cannot turn foreign keys back on after a migration: {}", st.ToString());
      }
    } restore{db, rebuilds};
    if (rebuilds) RETURN_IF_ERROR(db.Exec("PRAGMA foreign_keys = OFF; PRAGMA legacy_alter_table = ON;"));
    Transaction tx(db);
    RETURN_IF_ERROR(tx.Begin());
    // Another process may have migrated while we waited for the lock.
    ASSIGN_OR_RETURN(int now, SchemaVersion(db));
    if (now >= m.version) {
      version = now;
      continue;
    }
    Status st = db.Exec(m.sql);
    if (!st.ok())
      return Status(st.code(), "migration " + m.name + " failed: " + st.message());
    if (rebuilds) {
      ASSIGN_OR_RETURN(Statement check, db.Prepare("PRAGMA foreign_key_check"));
      ASSIGN_OR_RETURN(bool broken, check.Step());
      if (broken)
        return Internal("migration " + m.name + " would leave rows whose foreign key points nowhere (table " +
                        check.ColumnText(0) + "); nothing was changed");
    }
    RETURN_IF_ERROR(db.Exec("PRAGMA user_version = " + std::to_string(m.version)));
    RETURN_IF_ERROR(tx.Commit());
    version = m.version;
  }
  return version;
}

}  // namespace carbon::sql

// Applies schema migrations in order, each in one BEGIN IMMEDIATE transaction
// with its PRAGMA user_version bump. A database whose version is newer than
// the newest migration known here is refused (FAILED_PRECONDITION) untouched.
#pragma once

#include <vector>

#include "common/status.h"
#include "daemon/store/db.h"
#include "migrations/embedded.h"

namespace carbon::sql {

StatusOr<int> SchemaVersion(Database& db);
// Returns the version the database is at afterwards.
StatusOr<int> Migrate(Database& db, const std::vector<Migration>& migrations);

}  // namespace carbon::sql

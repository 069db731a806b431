// The schema migrations compiled into the binaries, in version order.
#pragma once

#include <string>
#include <vector>

namespace carbon {

struct Migration {
  int version;       // 1 for 0001_init.sql; PRAGMA user_version after applying it
  std::string name;  // file name
  std::string sql;
};

const std::vector<Migration>& EmbeddedMigrations();

}  // namespace carbon

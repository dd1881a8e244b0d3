// The schema migrations a binary was built with (embedded from migrations/).
#pragma once

#include <string>
#include <vector>

namespace payonce {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

struct MigrationSet {
  std::string database;
  std::vector<Migration> migrations;  // ascending versions

  int Latest() const { return migrations.empty() ? 0 : migrations.back().version; }
};

namespace migrations {
const MigrationSet& order();
const MigrationSet& payment();
const MigrationSet& provider();
}  // namespace migrations

}  // namespace payonce

// Named SQL statements, executed as prepared statements of the connection
// they run on: PostgreSQL parses, analyses and plans each one once per
// connection instead of on every call (about a third of its CPU on the
// callback path, measured with perf; docs/benchmarks.md).
//
// libpqxx registers a definition with connection::prepare (no round trip;
// the same name with the same text again is a no-op) and sends it to the
// server on its first exec_prepared on that connection. A broken connection
// is replaced by the pool, and the new one prepares again on first use.
#pragma once

#include <pqxx/pqxx>
#include <utility>

namespace payonce {

struct PgStatement {
  // Unique within a process; the adapter's file names its statements.
  const char* name;
  const char* sql;
};

template <class... Args>
pqxx::result Exec(pqxx::transaction_base& tx, const PgStatement& statement, Args&&... args) {
  tx.conn().prepare(statement.name, statement.sql);
  return tx.exec_prepared(statement.name, std::forward<Args>(args)...);
}

// Exactly one row, or pqxx::unexpected_rows.
template <class... Args>
pqxx::row Exec1(pqxx::transaction_base& tx, const PgStatement& statement, Args&&... args) {
  tx.conn().prepare(statement.name, statement.sql);
  return tx.exec_prepared1(statement.name, std::forward<Args>(args)...);
}

}  // namespace payonce

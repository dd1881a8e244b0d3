#include "services/provider_sandbox/adapters/pg/pg_sandbox_tables.h"

#include <string>

namespace payonce::provider {
namespace {

#define FAULT_COLUMNS                                                                      \
  "fail_rate, drop_callback_rate, duplicate_callback_rate, max_duplicates, min_delay_ms, " \
  "max_delay_ms, reorder, double_charge_rate, replay_rate, forge_rate, "                   \
  "callback_target_down_retry_ms, wrong_amount_rate, late_capture_rate, late_capture_delay_ms"

constexpr const char* kSelectFaults = "SELECT " FAULT_COLUMNS " FROM faults WHERE id = 1";

constexpr const char* kUpsertFaults =
    "INSERT INTO faults (id, " FAULT_COLUMNS
    ") "
    "VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) "
    "ON CONFLICT (id) DO UPDATE SET fail_rate = excluded.fail_rate, "
    "drop_callback_rate = excluded.drop_callback_rate, "
    "duplicate_callback_rate = excluded.duplicate_callback_rate, "
    "max_duplicates = excluded.max_duplicates, min_delay_ms = excluded.min_delay_ms, "
    "max_delay_ms = excluded.max_delay_ms, reorder = excluded.reorder, "
    "double_charge_rate = excluded.double_charge_rate, replay_rate = excluded.replay_rate, "
    "forge_rate = excluded.forge_rate, "
    "callback_target_down_retry_ms = excluded.callback_target_down_retry_ms, "
    "wrong_amount_rate = excluded.wrong_amount_rate, "
    "late_capture_rate = excluded.late_capture_rate, "
    "late_capture_delay_ms = excluded.late_capture_delay_ms, "
    "updated_at = clock_timestamp() "
    "RETURNING " FAULT_COLUMNS;

constexpr const char* kAddCounter =
    "INSERT INTO callback_counters (result, count) VALUES ($1, $2) "
    "ON CONFLICT (result) DO UPDATE SET count = callback_counters.count + excluded.count";

constexpr const char* kSelectCounters = "SELECT result, count FROM callback_counters";

#undef FAULT_COLUMNS

FaultConfig FaultsFromRow(const pqxx::row& r) {
  FaultConfig f;
  f.fail_rate = r[0].as<double>();
  f.drop_callback_rate = r[1].as<double>();
  f.duplicate_callback_rate = r[2].as<double>();
  f.max_duplicates = r[3].as<int32_t>();
  f.min_delay_ms = r[4].as<int32_t>();
  f.max_delay_ms = r[5].as<int32_t>();
  f.reorder = r[6].as<bool>();
  f.double_charge_rate = r[7].as<double>();
  f.replay_rate = r[8].as<double>();
  f.forge_rate = r[9].as<double>();
  f.callback_target_down_retry_ms = r[10].as<int32_t>();
  f.wrong_amount_rate = r[11].as<double>();
  f.late_capture_rate = r[12].as<double>();
  f.late_capture_delay_ms = r[13].as<int32_t>();
  return f;
}

}  // namespace

FaultConfig LoadFaults(pqxx::transaction_base& tx) {
  const auto rows = tx.exec(kSelectFaults);
  return rows.empty() ? FaultConfig{} : FaultsFromRow(rows[0]);
}

FaultConfig StoreFaults(pqxx::transaction_base& tx, const FaultConfig& f) {
  return FaultsFromRow(tx.exec_params1(
      kUpsertFaults, f.fail_rate, f.drop_callback_rate, f.duplicate_callback_rate, f.max_duplicates,
      f.min_delay_ms, f.max_delay_ms, f.reorder, f.double_charge_rate, f.replay_rate, f.forge_rate,
      f.callback_target_down_retry_ms, f.wrong_amount_rate, f.late_capture_rate,
      f.late_capture_delay_ms));
}

void AddToCounters(pqxx::transaction_base& tx, const CallbackTally& tally) {
  tally.ForEach([&tx](std::string_view name, int64_t value) {
    if (value != 0) tx.exec_params(kAddCounter, std::string(name), value);
  });
}

CallbackTally LoadCounters(pqxx::transaction_base& tx) {
  CallbackTally tally;
  for (const auto& r : tx.exec(kSelectCounters)) {
    tally.Set(r[0].as<std::string>(), r[1].as<int64_t>());
  }
  return tally;
}

}  // namespace payonce::provider

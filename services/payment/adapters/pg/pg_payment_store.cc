#include "services/payment/adapters/pg/pg_payment_store.h"

namespace payonce::payment {
namespace {

#define PAYMENT_COLUMNS                                                                      \
  "payment_id, order_id, amount_minor, currency, status, provider, "                        \
  "coalesce(provider_txn_id, ''), failure_reason, late_success, "                            \
  "(extract(epoch FROM created_at) * 1000000)::bigint, "                                     \
  "(extract(epoch FROM updated_at) * 1000000)::bigint"

constexpr const char* kSelectPayment =
    "SELECT " PAYMENT_COLUMNS " FROM payments WHERE payment_id = $1";
constexpr const char* kSelectPaymentsForOrder =
    "SELECT " PAYMENT_COLUMNS " FROM payments WHERE order_id = $1 ORDER BY created_at, payment_id";

#undef PAYMENT_COLUMNS

Payment PaymentFromRow(const pqxx::row& r) {
  Payment p;
  p.payment_id = r[0].as<std::string>();
  p.order_id = r[1].as<std::string>();
  p.amount_minor = r[2].as<int64_t>();
  p.currency = r[3].as<std::string>();
  p.status = ParsePaymentStatus(r[4].as<std::string>()).value_or(PaymentStatus::kPending);
  p.provider = r[5].as<std::string>();
  p.provider_txn_id = r[6].as<std::string>();
  p.failure_reason = r[7].as<std::string>();
  p.late_success = r[8].as<bool>();
  p.created_at_us = r[9].as<int64_t>();
  p.updated_at_us = r[10].as<int64_t>();
  return p;
}

}  // namespace

absl::StatusOr<Payment> PgPaymentStore::Get(const std::string& payment_id) {
  return pool_.WithConnection([&](pqxx::connection& c) -> absl::StatusOr<Payment> {
    pqxx::read_transaction tx(c);
    const auto rows = tx.exec_params(kSelectPayment, payment_id);
    if (rows.empty()) return absl::NotFoundError("payment " + payment_id + " not found");
    return PaymentFromRow(rows[0]);
  });
}

absl::StatusOr<std::vector<Payment>> PgPaymentStore::ListForOrder(const std::string& order_id) {
  return pool_.WithConnection([&](pqxx::connection& c) -> absl::StatusOr<std::vector<Payment>> {
    pqxx::read_transaction tx(c);
    std::vector<Payment> out;
    for (const auto& r : tx.exec_params(kSelectPaymentsForOrder, order_id)) {
      out.push_back(PaymentFromRow(r));
    }
    return out;
  });
}

}  // namespace payonce::payment

// ReconcileStore on PostgreSQL (database payonce_payment).
#pragma once

#include "services/common/clock.h"
#include "services/common/outbox_notifier.h"
#include "services/common/pg_pool.h"
#include "services/reconciler/app/ports.h"

namespace payonce::reconciler {

class PgReconcileStore final : public ReconcileStore {
 public:
  // `notifier` is told after every commit that appended outbox rows.
  PgReconcileStore(PgPool& pool, IdGenerator& ids, OutboxNotifier& notifier)
      : pool_(pool), ids_(ids), notifier_(notifier) {}

  absl::StatusOr<std::vector<ClaimedPayment>> ClaimStuckPayments(
      std::chrono::milliseconds older_than, int limit, std::chrono::milliseconds lease) override;
  absl::StatusOr<EvidenceOutcome> ApplyEvidence(
      const std::string& payment_id, const CaptureEvidence& evidence,
      const std::vector<std::string>& extra_captures,
      const std::vector<std::string>& mismatched_captures) override;
  absl::Status Defer(const std::string& payment_id, std::chrono::milliseconds delay) override;
  absl::StatusOr<std::vector<ClaimedPayment>> ClaimUnconfirmedSuccesses(
      std::chrono::milliseconds older_than, int limit, std::chrono::milliseconds lease) override;
  absl::StatusOr<int64_t> ConfirmDeliveredSuccesses() override;
  absl::Status MarkOrderConfirmed(const std::string& payment_id) override;
  absl::Status RecordRefundRequired(const std::string& payment_id,
                                    const std::string& detail) override;
  absl::StatusOr<std::vector<Anomaly>> ClaimAnomalies(const std::vector<std::string>& kinds,
                                                      int limit,
                                                      std::chrono::milliseconds lease) override;
  absl::Status ResolveAnomaly(int64_t anomaly_id, const std::string& status,
                              const std::string& resolution) override;
  absl::Status DeferAnomaly(int64_t anomaly_id, std::chrono::milliseconds delay,
                            const std::string& why) override;
  absl::StatusOr<std::vector<payment::Payment>> PaymentsOfOrder(
      const std::string& order_id) override;
  absl::StatusOr<bool> RecordCaptureRefund(const RefundPlan::Item& item,
                                           const std::string& order_id,
                                           const std::string& refund_id) override;
  absl::StatusOr<std::optional<LedgerPayment>> LedgerFor(const std::string& payment_id) override;
  absl::StatusOr<std::vector<LedgerCapture>> CapturesSucceededBetween(int64_t from_unix_ms,
                                                                      int64_t to_unix_ms) override;
  absl::Status RecordDiscrepancy(const Discrepancy& d, const std::string& status) override;
  absl::StatusOr<std::optional<int64_t>> Cursor(const std::string& job) override;
  absl::Status SetCursor(const std::string& job, int64_t at_unix_ms) override;
  absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> OpenAnomalyCounts() override;
  absl::StatusOr<std::vector<Anomaly>> ListAnomalies(const std::string& status, int limit) override;
  absl::StatusOr<bool> AsLeader(const std::string& job,
                                const std::function<absl::Status()>& work) override;

 private:
  PgPool& pool_;
  IdGenerator& ids_;
  OutboxNotifier& notifier_;
};

}  // namespace payonce::reconciler

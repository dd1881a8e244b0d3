#include "services/payment/app/payment_app.h"

#include <chrono>
#include <thread>

#include "services/common/domain/callback_signature.h"
#include "services/common/domain/text.h"

namespace payonce::payment {
namespace {

std::string CacheKey(const std::string& scope, const std::string& key) {
  return "payonce:idem:" + scope + ":" + key;
}
std::string LockKey(const std::string& scope, const std::string& key) {
  return "payonce:idem-lock:" + scope + ":" + key;
}
std::string NonceKey(const std::string& provider, const std::string& nonce) {
  return "payonce:nonce:" + provider + ":" + nonce;
}

// Errors after which the client may retry the same key: the key is released.
bool Retryable(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable ||
         s.code() == absl::StatusCode::kDeadlineExceeded ||
         s.code() == absl::StatusCode::kAborted ||
         s.code() == absl::StatusCode::kFailedPrecondition ||
         s.code() == absl::StatusCode::kNotFound || s.code() == absl::StatusCode::kInternal;
}

CallbackFields SignedFields(const CallbackMessage& m) {
  return {m.provider,     m.event_id, m.payment_id,          m.provider_txn_id,   m.status_name,
          m.amount_minor, m.currency, m.occurred_at_unix_ms, m.timestamp_unix_ms, m.nonce};
}

}  // namespace

PaymentApp::PaymentApp(PaymentAppOptions options, PaymentStore& store, OrderDirectory& orders,
                       ProviderGateway& provider, FastCache& cache, IdGenerator& ids,
                       const Clock& clock, PaymentObserver& observer, Logger& log)
    : options_(std::move(options)),
      store_(store),
      orders_(orders),
      provider_(provider),
      cache_(cache),
      ids_(ids),
      clock_(clock),
      observer_(observer),
      log_(log) {
  if (options_.group_commit) {
    group_commit_ = std::make_unique<CallbackGroupCommit>(
        *options_.group_commit, "callbacks",
        [this](const std::vector<CallbackMessage>& batch) { return store_.ApplyCallbacks(batch); },
        [this](size_t size) { observer_.CallbackBatch(size); });
  }
}

template <class Work>
absl::StatusOr<Payment> PaymentApp::Idempotent(const std::string& scope, const std::string& key,
                                               const std::string& fingerprint, Work&& work) {
  // Fast path: a finished request cached in Redis ("fingerprint|payment_id").
  auto cached = cache_.Get(CacheKey(scope, key));
  if (!cached.ok()) {
    observer_.RedisError();
  } else if (cached->has_value()) {
    const std::string& value = **cached;
    const auto bar = value.find('|');
    if (bar != std::string::npos) {
      if (value.substr(0, bar) != fingerprint) {
        return absl::FailedPreconditionError(
            "idempotency_key was already used for a different request");
      }
      auto payment = store_.Get(value.substr(bar + 1));
      if (payment.ok()) {
        observer_.IdempotencyHit("redis");
        return payment;
      }
    }
  }
  // In-flight lock in Redis; PostgreSQL decides when Redis cannot.
  bool redis_locked = false;
  auto lock = cache_.SetIfAbsent(LockKey(scope, key), "1", options_.idempotency_lock);
  if (!lock.ok()) {
    observer_.RedisError();
  } else if (!*lock) {
    return absl::AbortedError("a request with this idempotency_key is in flight; retry");
  } else {
    redis_locked = true;
  }
  auto release_lock = [&] {
    if (redis_locked && !cache_.Delete(LockKey(scope, key)).ok()) observer_.RedisError();
  };

  auto claim = store_.ClaimIdempotencyKey(scope, key, fingerprint, options_.idempotency_lock,
                                          options_.idempotency_ttl);
  if (!claim.ok()) {
    release_lock();
    return claim.status();
  }
  switch (claim->action) {
    case IdempotencyAction::kMismatch:
      release_lock();
      return absl::FailedPreconditionError(
          "idempotency_key was already used for a different request");
    case IdempotencyAction::kInFlight:
      release_lock();
      return absl::AbortedError("a request with this idempotency_key is in flight; retry");
    case IdempotencyAction::kReplay: {
      release_lock();
      observer_.IdempotencyHit("postgres");
      auto payment = store_.Get(claim->payment_id);
      if (payment.ok() && !cache_
                               .Set(CacheKey(scope, key), fingerprint + "|" + claim->payment_id,
                                    options_.idempotency_ttl)
                               .ok()) {
        observer_.RedisError();
      }
      return payment;
    }
    case IdempotencyAction::kProceed:
    case IdempotencyAction::kTakeOver:
      break;
  }

  absl::StatusOr<Payment> result = work();
  if (result.ok()) {
    if (auto s = store_.CompleteIdempotencyKey(scope, key, result->payment_id); !s.ok()) {
      log_.Warn("could not complete idempotency key",
                {{"scope", scope}, {"error", std::string(s.message())}});
    } else if (!cache_
                    .Set(CacheKey(scope, key), fingerprint + "|" + result->payment_id,
                         options_.idempotency_ttl)
                    .ok()) {
      observer_.RedisError();
    }
  } else if (Retryable(result.status())) {
    if (auto s = store_.ReleaseIdempotencyKey(scope, key); !s.ok()) {
      log_.Warn("could not release idempotency key",
                {{"scope", scope}, {"error", std::string(s.message())}});
    }
  }
  release_lock();
  return result;
}

absl::StatusOr<Payment> PaymentApp::CreatePayment(const CreatePaymentRequest& request) {
  if (auto s = ValidateCreatePayment(request.idempotency_key, request.order_id,
                                     request.amount_minor, request.currency);
      !s.ok()) {
    return s;
  }
  const std::string fingerprint =
      CreatePaymentFingerprint(request.order_id, request.amount_minor, request.currency);
  return Idempotent("create_payment", request.idempotency_key, fingerprint,
                    [&] { return StartPayment(request); });
}

absl::StatusOr<Payment> PaymentApp::StartPayment(const CreatePaymentRequest& request) {
  // One live payment per order: an existing PENDING or SUCCEEDED payment is
  // the answer, whatever the key, and no new debit is sent.
  auto blocking = store_.FindBlockingPayment(request.order_id);
  if (!blocking.ok()) return blocking.status();
  if (blocking->has_value()) {
    const Payment& existing = **blocking;
    if (existing.amount_minor != request.amount_minor || existing.currency != request.currency) {
      return absl::FailedPreconditionError("the order's payment is for another amount");
    }
    return existing;
  }

  auto order = orders_.GetOrder(request.order_id);
  if (!order.ok()) {
    if (order.status().code() == absl::StatusCode::kNotFound) {
      return absl::FailedPreconditionError("order " + request.order_id + " does not exist");
    }
    if (order.status().code() == absl::StatusCode::kInvalidArgument) {
      return absl::InvalidArgumentError(order.status().message());
    }
    return absl::UnavailableError("order service unavailable: " +
                                  std::string(order.status().message()));
  }
  if (order->status != OrderSnapshot::Status::kPendingPayment) {
    return absl::FailedPreconditionError("order " + request.order_id +
                                         " is not waiting for payment");
  }
  if (order->amount_minor != request.amount_minor || order->currency != request.currency) {
    return absl::FailedPreconditionError("amount or currency differs from the order's (" +
                                         std::to_string(order->amount_minor) + " " +
                                         order->currency + ")");
  }

  Payment payment;
  payment.payment_id = ids_.NewId();
  payment.order_id = request.order_id;
  payment.amount_minor = request.amount_minor;
  payment.currency = request.currency;
  payment.status = PaymentStatus::kPending;
  payment.provider = options_.provider_name;
  auto inserted = store_.InsertPendingPayment(payment);
  if (!inserted.ok()) return inserted.status();
  if (!inserted->created) return inserted->payment;  // a concurrent attempt won

  // No transaction is open here. An unknown outcome leaves the payment
  // PENDING: the callback, the reconciler's query or the statement decides.
  auto debit = provider_.Debit(payment.payment_id, payment.amount_minor, payment.currency);
  if (debit.ok()) {
    if (auto s = store_.RecordDebit(payment.payment_id, debit->provider_txn_id); !s.ok()) {
      log_.Warn("could not record debit",
                {{"payment_id", payment.payment_id}, {"error", std::string(s.message())}});
    }
  } else {
    log_.Warn("debit outcome unknown; payment stays PENDING",
              {{"payment_id", payment.payment_id},
               {"order_id", payment.order_id},
               {"error", std::string(debit.status().message())}});
  }
  auto latest = store_.Get(payment.payment_id);
  if (!latest.ok()) return inserted->payment;
  return latest;
}

absl::StatusOr<Payment> PaymentApp::GetPayment(const std::string& payment_id) {
  if (auto s = RequireText("payment_id", payment_id); !s.ok()) return s;
  return store_.Get(payment_id);
}

absl::StatusOr<std::vector<Payment>> PaymentApp::ListPayments(const std::string& order_id) {
  if (auto s = RequireText("order_id", order_id); !s.ok()) return s;
  return store_.ListForOrder(order_id);
}

absl::StatusOr<CallbackAnswer> PaymentApp::HandleProviderCallback(const CallbackMessage& callback) {
  const auto start = std::chrono::steady_clock::now();
  auto answer = CheckAndApplyCallback(callback);
  std::string outcome = "error";
  if (answer.ok()) {
    outcome = CallbackEffectName(answer->effect);
  } else {
    switch (answer.status().code()) {
      case absl::StatusCode::kInvalidArgument:
        outcome = "invalid";
        break;
      case absl::StatusCode::kUnauthenticated:
        outcome = "unauthenticated";
        break;
      case absl::StatusCode::kNotFound:
        outcome = "not_found";
        break;
      case absl::StatusCode::kFailedPrecondition:
        outcome = "amount_mismatch";
        break;
      default:
        break;
    }
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  observer_.Callback(outcome, elapsed.count());
  return answer;
}

absl::StatusOr<CallbackAnswer> PaymentApp::CheckAndApplyCallback(const CallbackMessage& callback) {
  if (auto s = ValidateCallbackShape(callback); !s.ok()) return s;
  if (!options_.accept_any_signature &&
      !VerifyCallbackSignature(options_.callback_secrets, SignedFields(callback),
                               callback.signature)) {
    return absl::UnauthenticatedError("callback signature does not match any configured secret");
  }
  if (auto s = CheckCallbackWindow(callback, clock_.NowUnixMs()); !s.ok()) return s;
  // Fast replay rejection; PostgreSQL records every nonce too and decides
  // when Redis is down.
  auto fresh = cache_.SetIfAbsent(NonceKey(callback.provider, callback.nonce), "1", kNonceTtl);
  if (!fresh.ok()) {
    observer_.RedisError();
  } else if (!*fresh) {
    return absl::UnauthenticatedError("callback nonce was already used");
  }
  if (options_.answer_before_commit) {
    std::thread([this, callback] {
      std::this_thread::sleep_for(std::chrono::seconds(2));
      (void)(group_commit_ ? group_commit_->Apply(callback) : store_.ApplyCallback(callback));
    }).detach();
    return CallbackAnswer{CallbackEffect::kApplied, Payment{}};
  }
  auto result = group_commit_ ? group_commit_->Apply(callback) : store_.ApplyCallback(callback);
  if (!result.ok()) return result.status();
  switch (result->effect) {
    case CallbackEffect::kReplayedNonce:
      return absl::UnauthenticatedError("callback nonce was already used");
    case CallbackEffect::kNotFound:
      return absl::NotFoundError("payment " + callback.payment_id + " not found");
    case CallbackEffect::kMismatch:
      log_.Warn("callback amount, currency or provider differs from the payment; anomaly recorded",
                {{"payment_id", callback.payment_id}, {"event_id", callback.event_id}});
      return absl::FailedPreconditionError("amount, currency or provider differs from the payment");
    case CallbackEffect::kApplied:
    case CallbackEffect::kDuplicate:
    case CallbackEffect::kIgnoredStale:
      break;
  }
  return CallbackAnswer{result->effect, std::move(result->payment)};
}

absl::StatusOr<Payment> PaymentApp::RefundPayment(const std::string& idempotency_key,
                                                  const std::string& payment_id,
                                                  const std::string& reason) {
  if (auto s = RequireText("idempotency_key", idempotency_key); !s.ok()) return s;
  if (auto s = RequireText("payment_id", payment_id); !s.ok()) return s;
  if (auto s = OptionalText("reason", reason, 1000); !s.ok()) return s;
  return Idempotent("refund_payment", idempotency_key, RefundFingerprint(payment_id, reason),
                    [&] { return RefundNow(payment_id, reason); });
}

absl::StatusOr<Payment> PaymentApp::RefundNow(const std::string& payment_id,
                                              const std::string& reason) {
  auto payment = store_.Get(payment_id);
  if (!payment.ok()) return payment.status();
  if (payment->status == PaymentStatus::kRefunded) return payment;
  if (auto s = CheckRefundable(payment->status); !s.ok()) return s;
  if (payment->provider_txn_id.empty()) {
    return absl::FailedPreconditionError("the payment has no provider capture to refund");
  }
  // Only once the order knows where its money stands: a refund it has not
  // heard of would leave it PAID with nothing held (issue 12, defect 2).
  auto order = orders_.GetOrder(payment->order_id);
  if (!order.ok()) {
    return order.status().code() == absl::StatusCode::kNotFound
               ? absl::FailedPreconditionError("order " + payment->order_id + " not found")
               : absl::UnavailableError("order service: " + std::string(order.status().message()));
  }
  OrderStanding standing = OrderStanding::kOther;
  switch (order->status) {
    case OrderSnapshot::Status::kPendingPayment:
      standing = OrderStanding::kAwaitingPayment;
      break;
    case OrderSnapshot::Status::kPaid:
      standing = order->paid_payment_id == payment_id ? OrderStanding::kPaidByThisPayment
                                                      : OrderStanding::kPaidByAnother;
      break;
    case OrderSnapshot::Status::kCancelled:
      standing = OrderStanding::kCancelled;
      break;
    case OrderSnapshot::Status::kOther:
      break;
  }
  if (auto s = CheckOrderAllowsRefund(standing); !s.ok()) return s;
  // The provider-side key is derived from the capture, so every path that
  // refunds this capture (API, reconciler) refunds it at most once.
  auto refund = provider_.Refund(payment->provider_txn_id, "refund:" + payment->provider_txn_id);
  if (!refund.ok()) {
    return absl::UnavailableError("provider refund failed: " +
                                  std::string(refund.status().message()));
  }
  return store_.MarkRefunded(payment_id, refund->refund_id, reason);
}

}  // namespace payonce::payment

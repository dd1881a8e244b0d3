// Group commit of provider callbacks (services/common/group_commit.h): the
// callbacks of callers arriving together are applied as one set-based
// transaction (PaymentStore::ApplyCallbacks), each keeping its own outcome
// and answered only after the commit.
#pragma once

#include "services/common/group_commit.h"
#include "services/payment/app/payment_store.h"

namespace payonce::payment {

using GroupCommitOptions = payonce::GroupCommitOptions;
using CallbackGroupCommit = GroupCommit<CallbackMessage, CallbackResult>;

}  // namespace payonce::payment

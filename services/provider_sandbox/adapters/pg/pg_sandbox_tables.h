// SQL and row mapping shared by the sandbox's PostgreSQL adapters (database
// payonce_provider): the fault configuration and the callback counters.
#pragma once

#include <pqxx/pqxx>

#include "services/provider_sandbox/domain/callback_tally.h"
#include "services/provider_sandbox/domain/faults.h"

namespace payonce::provider {

// A timestamptz from a bigint parameter of Unix milliseconds, e.g.
// SANDBOX_TS_FROM_MS("$4").
#define SANDBOX_TS_FROM_MS(param) \
  "(timestamptz 'epoch' + " param "::bigint * interval '1 millisecond')"
// A timestamptz column as bigint Unix milliseconds.
#define SANDBOX_MS_OF(column) "(extract(epoch FROM " column ") * 1000)::bigint"

// The stored fault configuration, or the default (no faults) if none.
FaultConfig LoadFaults(pqxx::transaction_base& tx);

// Replaces the stored fault configuration; returns what is stored.
FaultConfig StoreFaults(pqxx::transaction_base& tx, const FaultConfig& faults);

// Adds every non-zero counter of `tally`, rows in name order.
void AddToCounters(pqxx::transaction_base& tx, const CallbackTally& tally);

// Every counter.
CallbackTally LoadCounters(pqxx::transaction_base& tx);

}  // namespace payonce::provider

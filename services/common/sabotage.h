// Sabotage: a test build's switch that breaks one guarantee on purpose, so
// that the storm can show it notices (issue 21). PAYONCE_SABOTAGE names one
// entry of this catalogue; each service acts on the entries that concern it
// and ignores the others. A build without PAYONCE_FAILPOINTS (scripts/dev,
// the container images) refuses any value at start-up, exit code 2.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace payonce {

class ConfigParser;

// payment-service: every order looks cancelled to CreatePayment and
// RefundPayment, so each is refused with FAILED_PRECONDITION (a storm whose
// customers can never pay must fail).
inline constexpr std::string_view kSabotageRefusePayments = "refuse-payments";

// payment-service: a provider callback is accepted whatever its signature
// (invariant 5: nothing forged gets in).
inline constexpr std::string_view kSabotageAcceptAnySignature = "accept-any-signature";

// order-service: a payment event is decided as if a CANCELLED order were
// still PENDING_PAYMENT, so a late success reopens it as PAID (invariant 4:
// monotonic states).
inline constexpr std::string_view kSabotageReopenCancelled = "reopen-cancelled";

// payment-service: a verified callback is answered OK at once and applied
// two seconds later in the background, so a crash in between loses what the
// provider was told is stored (invariant 6: nothing lost on a crash).
inline constexpr std::string_view kSabotageAnswerBeforeCommit = "answer-before-commit";

// Every name PAYONCE_SABOTAGE accepts.
const std::vector<std::string_view>& SabotageCatalogue();

// Whether this build compiled the failpoints in (CMake PAYONCE_FAILPOINTS).
bool FailpointsCompiledIn();

// Adds PAYONCE_SABOTAGE ("" = none) to `parser`: a catalogue name, and only
// in a build with failpoints.
void AddSabotageSetting(ConfigParser& parser, std::string* sabotage);

}  // namespace payonce

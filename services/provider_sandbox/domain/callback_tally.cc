#include "services/provider_sandbox/domain/callback_tally.h"

namespace payonce::provider {

void CallbackTally::ForEach(const std::function<void(std::string_view, int64_t)>& fn) const {
  fn("acknowledged", acknowledged);
  fn("dropped", dropped);
  fn("forged", forged);
  fn("forged_accepted", forged_accepted);
  fn("given_up", given_up);
  fn("rejected", rejected);
  fn("replayed", replayed);
  fn("replayed_accepted", replayed_accepted);
  fn("unreachable", unreachable);
}

bool CallbackTally::Set(std::string_view name, int64_t value) {
  int64_t* field = nullptr;
  if (name == "acknowledged") field = &acknowledged;
  if (name == "dropped") field = &dropped;
  if (name == "forged") field = &forged;
  if (name == "forged_accepted") field = &forged_accepted;
  if (name == "given_up") field = &given_up;
  if (name == "rejected") field = &rejected;
  if (name == "replayed") field = &replayed;
  if (name == "replayed_accepted") field = &replayed_accepted;
  if (name == "unreachable") field = &unreachable;
  if (field == nullptr) return false;
  *field = value;
  return true;
}

}  // namespace payonce::provider

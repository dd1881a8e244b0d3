// Counters of callback deliveries by result. Pure.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace payonce::provider {

// Callbacks sent (and not sent), by result. Kept in the database so GetStats
// survives restarts.
struct CallbackTally {
  // Genuine deliveries (normal and duplicate copies), by answer.
  int64_t acknowledged = 0;
  int64_t rejected = 0;
  int64_t unreachable = 0;
  // Callbacks never sent (drop fault).
  int64_t dropped = 0;
  // Forged deliveries sent, and how many of them were (wrongly) acknowledged.
  int64_t forged = 0;
  int64_t forged_accepted = 0;
  // Verbatim replays sent, and how many were (wrongly) acknowledged.
  int64_t replayed = 0;
  int64_t replayed_accepted = 0;
  // Callbacks abandoned after the retry window.
  int64_t given_up = 0;

  // acknowledged + rejected + unreachable.
  int64_t Sent() const { return acknowledged + rejected + unreachable; }
  // Calls `fn(name, value)` for every counter, in name order (the database
  // updates rows in this order, so concurrent transactions never deadlock).
  void ForEach(const std::function<void(std::string_view, int64_t)>& fn) const;
  // Sets the counter called `name`; false if there is none.
  bool Set(std::string_view name, int64_t value);
};

}  // namespace payonce::provider

#ifndef DIPWIRE_COMMON_CLOCK_H_
#define DIPWIRE_COMMON_CLOCK_H_

#include "absl/time/time.h"

namespace dipwire {

// A source of the current time. Time-dependent code takes a Clock* so that
// tests can substitute a FakeClock (tests/testing/fake_clock.h).
//
// Implementations are safe for concurrent use.
class Clock {
 public:
  Clock() = default;
  Clock(const Clock&) = delete;
  Clock& operator=(const Clock&) = delete;
  virtual ~Clock() = default;

  virtual absl::Time Now() = 0;

  // The process-wide real-time clock. Never null; never deleted.
  static Clock* Real();
};

}  // namespace dipwire

#endif  // DIPWIRE_COMMON_CLOCK_H_

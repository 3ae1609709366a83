#include "common/clock.h"

#include "absl/time/clock.h"

namespace dipwire {
namespace {

class RealClock final : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
};

}  // namespace

Clock* Clock::Real() {
  static auto* const clock = new RealClock();
  return clock;
}

}  // namespace dipwire

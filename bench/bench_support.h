#ifndef DIPWIRE_BENCH_BENCH_SUPPORT_H_
#define DIPWIRE_BENCH_BENCH_SUPPORT_H_

// What dipwire-bench's load generators share: the bench events (each carries
// its send time and yields exactly one alert), what a subscriber received,
// the count of deliveries a run waits for, and the publishers' window.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dipwire/v1/events.pb.h"

namespace dipwire::bench {

// Steady-clock nanoseconds: publishers and subscribers live in one process.
int64_t NowNanos();

// The events of one publishing lane (a PublishStream, a unary caller, a
// Redis connection): events [begin, end) of the run, all status changes of
// one peace process of its own, so each yields exactly one alert whatever
// the other lanes do.
struct Lane {
  int index = 0;
  int64_t begin = 0;
  int64_t end = 0;
};

// Splits `count` events into `lanes` contiguous lanes.
std::vector<Lane> SplitLanes(int64_t count, int lanes);

// Event `index` of `lane`: a peace-talk status change (IN_PROGRESS and
// STALLED in turn), event_id "b<index>", the send time `sent_ns` as the
// summary.
v1::DiplomaticEvent BenchEvent(const Lane& lane, int64_t index,
                               int64_t sent_ns);

// What one subscriber received. Not thread-safe: one reader at a time.
class Tally {
 public:
  explicit Tally(int64_t count) : seen_(static_cast<size_t>(count), 0) {}

  // Records a delivery of `event` at `now_ns`; returns 1 if it is the first
  // of that event, else 0 (a duplicate, or not an event of this run).
  int Record(const v1::DiplomaticEvent& event, int64_t now_ns);
  // Counts one read (a gRPC response, a Redis XREAD reply) that carried
  // `alerts` alerts (entries); reads that carried none are not counted.
  void CountRead(int64_t alerts) {
    if (alerts <= 0) return;
    ++reads_;
    read_alerts_ += alerts;
  }

  int64_t reads() const { return reads_; }
  int64_t read_alerts() const { return read_alerts_; }

  int64_t unique() const { return unique_; }
  int64_t duplicates() const { return duplicates_; }
  int64_t last_ns() const { return last_ns_; }
  const std::vector<int64_t>& latency_ns() const { return latency_ns_; }

 private:
  std::vector<uint8_t> seen_;
  std::vector<int64_t> latency_ns_;
  int64_t unique_ = 0;
  int64_t duplicates_ = 0;
  int64_t reads_ = 0;
  int64_t read_alerts_ = 0;
  int64_t last_ns_ = 0;
};

// Counts the distinct deliveries of a run. Thread-safe.
class Progress {
 public:
  void Add(int64_t n) ABSL_LOCKS_EXCLUDED(mu_);
  // Blocks until `target` deliveries have arrived, or until none arrived
  // for `idle`. Returns the count then.
  int64_t Await(int64_t target, absl::Duration idle) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  bool Reached() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return count_ >= target_;
  }
  absl::Mutex mu_;
  int64_t count_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t target_ ABSL_GUARDED_BY(mu_) = 0;
};

// Counts requests in flight; a sender waits for room. Thread-safe.
class Window {
 public:
  explicit Window(int limit) : limit_(limit) {}
  // Waits (at most `timeout`) for room and takes a slot.
  bool Acquire(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  void Release() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  bool HasRoom() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return in_flight_ < limit_;
  }
  const int limit_;
  absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

// Sleeps until request `request` of a lane paced to `rate` events/s
// (0: unlimited) with `per_request` events each is due, counted from
// `start_ns`.
void Pace(int64_t start_ns, int64_t request, int per_request, double rate);

// The value at quantile `q` (0..1) of `values` (reordered), in ms.
double PercentileMs(std::vector<int64_t>* values, double q);

}  // namespace dipwire::bench

#endif  // DIPWIRE_BENCH_BENCH_SUPPORT_H_

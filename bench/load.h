#ifndef DIPWIRE_BENCH_LOAD_H_
#define DIPWIRE_BENCH_LOAD_H_

// dipwire-bench's load: publishers and subscribers over gRPC (dipwired and
// the bare server serve the same dipwire.v1.AlertService) or over Redis
// Streams, with the same events, the same batching and one connection per
// subscriber.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/bench_support.h"
#include "bench/servers.h"

namespace dipwire::bench {

// How events are published.
struct PublishShape {
  int publishers = 1;          // PublishStreams, or Redis connections
  int events_per_request = 1;  // events per PublishRequest; XADDs per batch
  int in_flight = 8;           // requests (batches) sent but not answered
  bool unary = false;          // unary Publish: `in_flight` callers each
  double rate = 0;             // events/s over all publishers; 0: unlimited
};

// Publishes events [0, count) to the server at `address` (Redis: the
// stream "bench") and blocks until every request is answered. Returns the
// first failure (a refused request, a broken stream, a Redis error).
// `start_ns` is set to when the first request left.
absl::Status Publish(Mode mode, const std::string& address,
                     const PublishShape& shape, int64_t count,
                     int64_t* start_ns);

// One subscriber on its own connection, counting into its Tally what it
// receives. gRPC: Subscribe on a channel of its own (a local subchannel
// pool and a distinct channel argument, so gRPC shares no connection);
// Redis: XREAD BLOCK 1000 COUNT 1000 on a connection of its own, on a thread
// of its own.
class Subscriber {
 public:
  virtual ~Subscriber() = default;
  // Blocks until the subscriber is attached (gRPC: its first response, the
  // server's first heartbeat; Redis: connected and PING answered), at most
  // `timeout`. UNAVAILABLE when the stream failed or did not attach.
  virtual absl::Status AwaitAttached(absl::Duration timeout) = 0;
  // Asks the subscription to end; does not block. Idempotent.
  virtual void Cancel() = 0;
  // Cancels and waits until the subscription has ended (Redis: up to its
  // XREAD's BLOCK, 1 s); the tally is final then. Idempotent.
  virtual void Stop() = 0;
  // Read only after Stop.
  virtual const Tally& tally() const = 0;
};

struct SubscriberOptions {
  int index = 0;          // distinguishes its channel
  int64_t count = 0;      // events of the run: event ids b0..b<count-1>
  bool earliest = false;  // from the start of the log (else LATEST)
  // Reads its first response and then nothing (gRPC), or never reads
  // (Redis): a stalled subscriber.
  bool stalled = false;
  std::string filter;  // dipwired only
};

// Starts a subscriber (returns at once; see AwaitAttached). Each first
// delivery of an event is added to `progress`, which must outlive it.
absl::StatusOr<std::unique_ptr<Subscriber>> StartSubscriber(
    Mode mode, const std::string& address, const SubscriberOptions& options,
    Progress* progress);

// The Redis halves of the two above (redis_load.cc), for redis-server on
// 127.0.0.1:`port`: the payload of each XADD (field "e") is the serialized
// DiplomaticEvent, as large as what dipwired receives.
absl::StatusOr<std::unique_ptr<Subscriber>> StartRedisSubscriber(
    int port, const SubscriberOptions& options, Progress* progress);
absl::Status PublishRedis(int port, const PublishShape& shape, int64_t count,
                          int64_t* start_ns);

}  // namespace dipwire::bench

#endif  // DIPWIRE_BENCH_LOAD_H_

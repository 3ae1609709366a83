#ifndef DIPWIRE_SERVER_ALERT_HUB_H_
#define DIPWIRE_SERVER_ALERT_HUB_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "dipwire/v1/alerts.pb.h"
#include "server/event_store.h"
#include "server/filter.h"
#include "server/limits.h"

namespace dipwire::server {

// Where a subscription starts (DESIGN.md, SubscribeRequest.start).
// With `subscription` set (a durable subscription, DESIGN.md), kResume
// continues after the subscription's last acknowledged position (creating
// it at LATEST when it does not exist), and any other kind creates the
// subscription there or moves it there. Durable starts are resolved against
// the store by the stream's first catch-up turn, never on the caller's
// thread.
struct StartSpec {
  enum class Kind { kLatest, kEarliest, kAfterPosition, kAtTime, kResume };
  Kind kind = Kind::kLatest;
  uint64_t after_position = 0;  // kAfterPosition
  absl::Time time;              // kAtTime
  std::string subscription;     // a durable subscription's name, or empty
};

struct AlertHubOptions {
  // Recent alerts kept in memory; a subscriber further behind reads from the
  // store a page at a time. Each costs about 1.8 KiB (the parsed alert, for
  // filters, and its serialized bytes, for responses): 2,048 keep the
  // server's working set under a million-alert flow ~11 MiB below 8,192 did
  // (dipwire-bench's stalled scenario), with no loss in fan-out measured.
  size_t tail_capacity = 2048;
  // Bounds of one SubscribeResponse: alerts and serialized bytes (well under
  // gRPC's 4 MiB default and DESIGN.md's 1 MiB).
  size_t max_response_alerts = 1000;
  size_t max_response_bytes = size_t{512} * 1024;
  // Alerts read from the store per page while catching up.
  size_t store_page_alerts = 1000;
  // Store pages one worker turn may scan before yielding to other
  // subscribers (a filter that matches nothing must not hog a worker).
  int max_store_pages_per_turn = 8;
  // Threads that produce responses; no thread per subscriber. Live workers
  // serve streams whose next alerts are in the in-memory tail and never
  // touch the store; catch-up workers serve streams behind it, so a slow
  // store read never delays a live stream.
  // A live worker also makes its streams' writes (gRPC's sendmsg runs on
  // the thread that starts a write), competing for the cores with gRPC's
  // own threads and the publish writer. 0 (or less) means one per two
  // usable cores (the process's CPU affinity), at least one: on two cores
  // one worker took 0.93 × the CPU per delivery of two, at 0.55 × the p99,
  // at 100 alerts/s to 1,000 subscribers, and gave 1.23 × the
  // deliveries/s at unlimited fan-out to 100, where the p99 grew with the
  // faster publisher (PERFORMANCE.md, "One live worker per two cores").
  int live_threads = 0;
  int catch_up_threads = 2;
  // How often idle streams are checked for a due heartbeat.
  absl::Duration heartbeat_tick = absl::Milliseconds(200);
  // Streams open at once at most (dipwired's --max-streams). A stream is
  // open from Attach until it ends; one that takes over a durable
  // subscription replaces the stream it ends and is always admitted.
  size_t max_streams = static_cast<size_t>(Limits().max_streams);
};

// The fan-out of committed alerts to subscribers (DESIGN.md, "the log is the
// buffer"). A subscriber is a cursor and a compiled filter, not a queue: the
// hub keeps one bounded tail of recent alerts shared by everyone, and a
// subscriber that falls behind it reads from the store a bounded page at a
// time. A slow subscriber therefore costs one cursor and at most one
// response in memory however far behind it is, and never delays publishers
// (Publish only appends to the tail and queues work) or other subscribers.
//
// Responses are produced on a small pool of worker threads, never on gRPC
// reaction threads: a reactor only reports completions (WriteDone, Cancel,
// Detach), which take the hub's lock briefly and never block.
//
// Invariants (under mu_):
//  - tail_ holds the alerts at positions tail_first_ .. head_, contiguous.
//  - a stream is in exactly one of: queued (in live_queue_ or catch_up_queue_,
//    by whether its next alerts are in the tail), running (a worker
//    owns it), writing (a write is in flight), waiting (caught up, in
//    waiting_), finished (End was called; only Detach may follow).
//  - Stream::End is called exactly once per attached stream, by a worker.
//  - durable_ maps each durable subscription name to the newest attached
//    stream of that name; every older one is marked taken over and ends
//    with ABORTED.
//
// Safe for concurrent use from multiple threads.
class AlertHub {
 public:
  // The gRPC side of one Subscribe call, implemented by its reactor.
  class Stream {
   public:
    virtual ~Stream() = default;
    // Starts writing `response`, a serialized v1::SubscribeResponse, and
    // reports AlertHub::WriteDone when done. Called on a worker; at most
    // one write is in flight per stream.
    virtual void Send(std::string response) = 0;
    // Ends the call with `status`. Called once, on a worker, after which the
    // hub touches the stream again only to forget it in Detach.
    virtual void End(const absl::Status& status) = 0;
  };

  // Identifies an attached stream.
  using StreamId = uint64_t;

  // `store` and `clock` must outlive the hub. Call Start before use.
  AlertHub(EventStore* store, Clock* clock, AlertHubOptions options = {});
  AlertHub(const AlertHub&) = delete;
  AlertHub& operator=(const AlertHub&) = delete;
  // Stops the workers (see Stop).
  ~AlertHub();

  // Loads the newest alerts from the store into the tail and starts the
  // workers. Blocks on the store.
  absl::Status Start() ABSL_LOCKS_EXCLUDED(mu_);

  // Makes newly committed alerts visible and wakes the streams waiting for
  // them. `alerts` continue the log (positions head()+1, ...). Never blocks
  // on I/O or on subscribers. Returns the alerts the tail no longer keeps,
  // so that the caller chooses where they are destroyed (outside the hub's
  // lock in any case).
  std::vector<std::shared_ptr<const StoredAlert>> Publish(
      std::vector<std::shared_ptr<const StoredAlert>> alerts)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The newest alert position (0 when the log has no alert).
  uint64_t head() const ABSL_LOCKS_EXCLUDED(mu_);

  // Retention: the alerts up to `position` are about to be deleted from the
  // store (call before deleting them). From now on a start before it is
  // OUT_OF_RANGE, and EARLIEST or a start time before the oldest kept alert
  // starts after it. Positions only grow; a lower one is ignored.
  void SetTrimmedThrough(uint64_t position) ABSL_LOCKS_EXCLUDED(mu_);
  // The last alert position retention removed, or is removing (0: none).
  uint64_t trimmed_through() const ABSL_LOCKS_EXCLUDED(mu_);

  // Blocks until the newest alert position is past `after`, the hub is
  // stopping, or `timeout` has passed; returns the newest position. For
  // in-process readers of the log (webhook sinks) that read the alerts
  // from the store themselves. Never call it on a gRPC reaction thread.
  uint64_t AwaitHead(uint64_t after, absl::Duration timeout) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Attaches a stream that delivers alerts matching `filter` from `start`,
  // with a heartbeat after `heartbeat` of quiet. `stream` is borrowed until
  // Detach returns. Returns INVALID_ARGUMENT when an after_position lies
  // beyond the newest alert, OUT_OF_RANGE when it lies before the alerts
  // retention kept (naming the oldest cursor still available; a durable
  // subscription resumed there ends with the same error on its first
  // turn, as does a stream that reaches alerts deleted while it was
  // catching up), RESOURCE_EXHAUSTED when max_streams are open
  // ("too many concurrent streams ... (--max-streams=N)"), UNAVAILABLE when
  // the hub is shutting down; on error nothing is attached and the caller
  // finishes the call itself.
  // A stream of a durable subscription takes it over from the stream that
  // had it, which ends with ABORTED. Never blocks on I/O.
  absl::StatusOr<StreamId> Attach(Stream* stream, Filter filter,
                                  const StartSpec& start,
                                  absl::Duration heartbeat)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The stream's write finished; `ok` false means the call is broken.
  void WriteDone(StreamId id, bool ok) ABSL_LOCKS_EXCLUDED(mu_);
  // The call was cancelled (client gone, deadline, server shutdown).
  void Cancel(StreamId id) ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets the stream; called from the reactor's OnDone, after End.
  void Detach(StreamId id) ABSL_LOCKS_EXCLUDED(mu_);
  // Deletes durable subscription `name` from the store (NOT_FOUND when it
  // holds none; the store's error otherwise); then the stream attached to
  // it, if any, ends with NOT_FOUND ("... was deleted"). Atomic with the
  // streams' own writes of their start, so that a stream storing its start
  // at that moment cannot put the subscription back. Blocks on the store.
  absl::Status DeleteSubscription(absl::string_view name)
      ABSL_LOCKS_EXCLUDED(durable_write_mu_, mu_);

  // Ends every stream, current and future, with UNAVAILABLE ("the server is
  // shutting down"). Streams whose write is stuck end when their call is
  // cancelled. Does not wait.
  void BeginShutdown() ABSL_LOCKS_EXCLUDED(mu_);

  // Joins the workers. Call after the gRPC server has shut down (so that
  // every stream has finished); idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Number of attached streams (for tests and metrics), including those
  // that have ended but are not yet detached.
  size_t stream_count() const ABSL_LOCKS_EXCLUDED(mu_);
  // Number of open streams: attached and not ended (a taken-over stream
  // counts until it has ended). This is what max_streams bounds, but for a
  // takeover (Attach).
  size_t open_stream_count() const ABSL_LOCKS_EXCLUDED(mu_);
  // For metrics: the open streams, and the largest distance (in alert
  // positions) from a stream's cursor to the head, over the streams not
  // being served by a worker at this instant.
  struct StreamStats {
    size_t open_streams = 0;
    uint64_t max_lag = 0;
  };
  StreamStats stream_stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Sub;
  enum class State { kQueued, kRunning, kWriting, kWaiting, kFinished };

  // What a worker does with a stream after collecting.
  enum class Step { kWrite, kEnd, kNone };

  // AwaitHead's condition, evaluated with mu_ held.
  struct HeadWait {
    const AlertHub* hub;
    uint64_t after;
  };
  static bool HeadPast(const HeadWait* wait) ABSL_NO_THREAD_SAFETY_ANALYSIS;

  // A worker of the live (catch_up false) or the catch-up pool.
  void WorkerLoop(bool catch_up) ABSL_LOCKS_EXCLUDED(mu_);
  void TickerLoop() ABSL_LOCKS_EXCLUDED(mu_);
  void Enqueue(Sub* sub) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stops counting `sub` as open (idempotent).
  void Close(Sub* sub) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the stream that held a durable subscription (taken over or
  // deleted; the caller set which): wakes it if parked, so that NextStep
  // ends it. It counts toward max_streams until it has ended.
  void EndHolder(Sub* sub) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // A worker's turn with `sub` (state kRunning): collect, then write, end,
  // requeue or park the stream.
  void Serve(Sub* sub, bool catch_up) ABSL_LOCKS_EXCLUDED(mu_);
  // Resolves a start_time or a durable subscription's start against the
  // store on the stream's first turn (and stores a durable start).
  absl::Status ResolveStart(Sub* sub) ABSL_LOCKS_EXCLUDED(mu_);
  // Decides, under the lock, what follows a collection; on kEnd `status`
  // holds why. Fills a due heartbeat into an empty response.
  Step NextStep(Sub* sub, bool yielded, absl::Status* status)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Collects matching alerts after sub->after into sub->response, from the
  // tail or, when behind it, from the store (at most `store_pages` pages).
  // `yielded` says the turn ended early with more to scan.
  absl::Status Collect(Sub* sub, int store_pages, bool* yielded)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Copies the next tail entries after sub.after into `chunk`. Returns false
  // when there are none there: `caught_up` then tells whether the stream is
  // at the head or behind the tail.
  bool CopyTail(const Sub& sub,
                std::vector<std::shared_ptr<const StoredAlert>>* chunk,
                bool* caught_up) const ABSL_LOCKS_EXCLUDED(mu_);
  // Adds `alert` to the response when it matches and there is room; false
  // when the response is full. Advances sub->after past what it consumed.
  bool Offer(Sub* sub, const StoredAlert& alert) const;

  // Const after construction.
  EventStore* const store_;
  Clock* const clock_;
  const AlertHubOptions options_;

  std::vector<std::thread> threads_;  // touched only by Start and Stop

  // Held across a stream's check that it still holds its subscription and
  // its store write of the start (ResolveStart), and across
  // DeleteSubscription's store delete and marking: so a delete cannot fall
  // between the check and the write. Taken before mu_.
  absl::Mutex durable_write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  uint64_t head_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t trimmed_through_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t tail_first_ ABSL_GUARDED_BY(mu_) = 1;
  std::deque<std::shared_ptr<const StoredAlert>> tail_ ABSL_GUARDED_BY(mu_);
  StreamId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  // Streams attached and not ended (Sub::open); a taken-over stream counts
  // until it has ended.
  size_t open_streams_ ABSL_GUARDED_BY(mu_) = 0;
  // Per durable name, how many of its taken-over streams have not ended.
  absl::flat_hash_map<std::string, int> taken_over_open_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<StreamId, std::unique_ptr<Sub>> subs_
      ABSL_GUARDED_BY(mu_);
  // The stream that currently holds each attached durable subscription.
  absl::flat_hash_map<std::string, StreamId> durable_ ABSL_GUARDED_BY(mu_);
  std::deque<Sub*> live_queue_ ABSL_GUARDED_BY(mu_);
  std::deque<Sub*> catch_up_queue_ ABSL_GUARDED_BY(mu_);
  std::vector<Sub*> waiting_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_ALERT_HUB_H_

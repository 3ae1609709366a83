#ifndef DIPWIRE_SERVER_PUBLISH_PIPELINE_H_
#define DIPWIRE_SERVER_PUBLISH_PIPELINE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "dipwire/v1/alerts.pb.h"
#include "server/alert_engine.h"
#include "server/alert_hub.h"
#include "server/event_store.h"
#include "server/limits.h"

namespace dipwire::server {

struct PublishPipelineOptions {
  // Events committed in one transaction at most (group commit). A single
  // batch larger than this still commits whole, alone.
  size_t max_group_events = 4096;
  // Events, and their bytes serialized, queued for the writer at most
  // (dipwired's --max-pending-events and --max-pending-bytes). A batch that
  // would queue more is refused at once with UNAVAILABLE; a batch submitted
  // to an empty queue is always taken, whatever its size.
  size_t max_pending_events = Limits().max_pending_events;
  size_t max_pending_bytes = Limits().max_pending_bytes;
};

// The single writer of the log. Publish batches (validated by the caller)
// queue here; one thread takes everything queued, checks idempotency,
// derives alerts, and commits the whole group in one transaction, so that
// under load many events share one fsync. Only after the commit does it make
// the alerts visible to subscribers and hand the group's answers to a
// second thread, which answers each batch in the order the batches were
// submitted while the writer goes on to the next group (writing an answer
// to a gRPC stream runs the socket write on the thread that starts it).
//
// On start it loads the newest engine snapshot (EventStore::NewestSnapshot)
// into a fresh AlertEngine, when there is one, and replays the stored events
// after it, so the engine's state is the one the log implies, also after
// kill -9 and after retention removed old event payloads.
//
// Safe for concurrent use from multiple threads.
class PublishPipeline {
 public:
  // Called once per batch, on the pipeline's answer thread, after its events
  // are committed (or with why nothing of it was stored): ALREADY_EXISTS for an
  // event_id known with other content, UNAVAILABLE when shutting down or the
  // store is busy, INTERNAL otherwise. Must not block.
  using Callback =
      absl::AnyInvocable<void(absl::StatusOr<v1::PublishResponse>) &&>;

  // Replays the log into the engine (blocking; reads the whole event log)
  // and starts the writer and answer threads. `store`, `hub` and `clock`
  // must outlive the pipeline.
  static absl::StatusOr<std::unique_ptr<PublishPipeline>> Start(
      EventStore* store, AlertHub* hub, Clock* clock,
      PublishPipelineOptions options = {});

  // Commits and answers what is queued, then joins the threads (Stop).
  ~PublishPipeline();
  PublishPipeline(const PublishPipeline&) = delete;
  PublishPipeline& operator=(const PublishPipeline&) = delete;

  // Queues a batch that passed ValidatePublishRequest. `done` runs exactly
  // once. Never blocks on I/O. Answers at once (on the caller's thread,
  // before Submit returns) with UNAVAILABLE when the queue holds
  // max_pending_events or max_pending_bytes already ("publish queue full ...
  // (--max-pending-events=N)"; nothing of the batch is stored and a retry
  // after a short backoff may succeed), and after Stop with UNAVAILABLE.
  void Submit(v1::PublishRequest request, Callback done)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Stops accepting, commits and answers what is queued, joins the writer
  // and answer threads. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Has the writer thread save the engine's state at the head of the log,
  // between two group commits, and store it (EventStore::PutSnapshot); the
  // snapshot lets retention remove the event payloads up to its sequence.
  // Blocks until it is stored (one store write on the writer thread, which
  // delays the next group commit by that much). Returns the snapshot's
  // sequence, UNAVAILABLE after Stop or when the pipeline refuses events
  // after a failed commit, or the store's error.
  absl::StatusOr<uint64_t> SaveSnapshot() ABSL_LOCKS_EXCLUDED(mu_);

  // The number of events the replay on start applied (after the snapshot
  // it started from, if any).
  uint64_t replayed_events() const { return replayed_events_; }

  // Called from a `done` callback: runs `flush` once every batch of the
  // group being answered has had its `done` called, on the same thread.
  // Called from anywhere else (an answer given at once by Submit, say):
  // runs `flush` at once. Lets a caller with several batches in one group
  // commit (a PublishStream) send their answers together.
  static void AfterGroupAnswered(absl::AnyInvocable<void() &&> flush);

 private:
  struct Pending {
    v1::PublishRequest request;
    Callback done;
    size_t bytes;  // request.ByteSizeLong()
    // Per event, its deterministic serialization as submitted and the
    // SHA-256 of it (the content hash). Submit computes them on the caller's
    // thread, so that the writer does not.
    std::vector<std::string> payloads;
    std::vector<std::string> hashes;
  };

  using KnownEvents = absl::flat_hash_map<std::string, EventRecord>;

  // A SaveSnapshot call waiting for the writer thread.
  struct SnapshotRequest {
    absl::Notification done;
    absl::StatusOr<uint64_t> result;
  };

  // A group's batches and their answers, in submission order, for the
  // answer thread.
  struct GroupAnswers {
    std::deque<Pending> group;
    std::vector<absl::StatusOr<v1::PublishResponse>> answers;
  };

  // What one group commit writes.
  struct GroupWrites {
    std::vector<StoredEvent> events;
    std::vector<StoredAlert> alerts;
    // Once committed: the alerts the hub's tail let go (AlertHub::Publish).
    std::vector<std::shared_ptr<const StoredAlert>> released;
  };

  PublishPipeline(EventStore* store, AlertHub* hub, Clock* clock,
                  PublishPipelineOptions options);

  // Rebuilds engine_ and the log position from the store; on error leaves
  // them as they were.
  absl::Status Recover();
  // After a failed commit: Recover, or, when the log's head has not moved
  // since the last such rewind, loads the engine state that rewind saved
  // (a full disk fails every group, and each Recover replays the log after
  // the newest snapshot, all of it without retention).
  absl::Status Rewind();
  // Gives the hub the stored alerts it has not seen (after a COMMIT that
  // reported failure but reached the disk).
  absl::Status PublishMissingAlerts();
  // Replays the events after `after` into `engine`; sets `*last` to the
  // last one applied and adds the alerts derived to `*derived_alerts`.
  absl::Status Replay(AlertEngine* engine, uint64_t after, uint64_t* last,
                      uint64_t* derived_alerts);
  void WriterLoop() ABSL_LOCKS_EXCLUDED(mu_);
  // On the writer thread: saves and stores the engine's state at the head.
  absl::StatusOr<uint64_t> WriteSnapshot();
  // On the writer thread: answers the SaveSnapshot calls waiting.
  void AnswerSnapshotRequests() ABSL_LOCKS_EXCLUDED(mu_);
  // Commits one group and queues its answers (QueueAnswers).
  void CommitGroup(std::deque<Pending> group);
  // On the writer thread: queues `answers` for the answer thread; waits
  // while kMaxQueuedGroups groups wait to be answered already.
  void QueueAnswers(GroupAnswers answers) ABSL_LOCKS_EXCLUDED(answer_mu_);
  // The answer thread: runs each batch's `done` in turn.
  void AnswerLoop() ABSL_LOCKS_EXCLUDED(answer_mu_);
  // ALREADY_EXISTS when an event of `pending` is known with other content.
  static absl::Status CheckBatch(const Pending& pending,
                                 const KnownEvents& known);
  // Sequences the new events of a checked batch, derives their alerts into
  // `writes`, and answers duplicates with the original results. Moves the
  // new events out of `pending->request` and, where they are stored as
  // submitted, their bytes out of `pending->payloads`.
  v1::PublishResponse ApplyBatch(Pending* pending, absl::Time now,
                                 KnownEvents* known, GroupWrites* writes);
  // Appends `writes` durably and makes the alerts visible (moving them out
  // of `writes->alerts`); on failure rewinds to the log's state and returns
  // the error for the group.
  absl::Status Commit(GroupWrites* writes, absl::Time now,
                      uint64_t first_sequence, uint64_t first_position);

  // Const after construction.
  EventStore* const store_;
  AlertHub* const hub_;
  Clock* const clock_;
  const PublishPipelineOptions options_;

  // Owned by the writer thread (and by Start before it runs).
  std::unique_ptr<AlertEngine> engine_;
  uint64_t last_sequence_ = 0;
  uint64_t last_alert_position_ = 0;
  absl::Time last_committed_at_ = absl::InfinitePast();
  uint64_t replayed_events_ = 0;
  // Set when the engine cannot be brought back in line with the log after a
  // failed commit: every later batch is refused with UNAVAILABLE.
  bool failed_ = false;
  // The engine's state at the head of the log, saved by the last Rewind and
  // dropped by the next successful commit.
  struct RewindPoint {
    uint64_t sequence = 0;
    uint64_t alert_position = 0;
    std::string state;
  };
  std::optional<RewindPoint> rewind_point_;
  std::thread writer_;
  std::thread answerer_;

  absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  // The events of the batches in queue_.
  size_t queued_events_ ABSL_GUARDED_BY(mu_) = 0;
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // SaveSnapshot calls waiting for the writer; each is owned by its caller,
  // which waits until the writer notifies it.
  std::vector<SnapshotRequest*> snapshot_requests_ ABSL_GUARDED_BY(mu_);

  // From the writer to the answer thread.
  absl::Mutex answer_mu_;
  std::deque<GroupAnswers> answer_queue_ ABSL_GUARDED_BY(answer_mu_);
  // Set by Stop once the writer has queued its last group.
  bool writer_done_ ABSL_GUARDED_BY(answer_mu_) = false;
};

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_PUBLISH_PIPELINE_H_

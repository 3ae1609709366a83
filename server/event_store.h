#ifndef DIPWIRE_SERVER_EVENT_STORE_H_
#define DIPWIRE_SERVER_EVENT_STORE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "dipwire/v1/alerts.pb.h"
#include "dipwire/v1/events.pb.h"

namespace dipwire::server {

// An event as the log holds it.
struct StoredEvent {
  // 1-based position in the event log.
  uint64_t sequence = 0;
  // The event with defaults applied (reported_at).
  v1::DiplomaticEvent event;
  // SHA-256 (32 raw bytes) of the deterministic serialization of the event
  // as the publisher submitted it, before defaults: what idempotency compares.
  std::string content_hash;
  // When the transaction that stored it committed.
  absl::Time committed_at;
  // Ids of the alerts it produced, in order.
  std::vector<std::string> alert_ids;
  // The deterministic serialization of `event`, when whoever made this
  // StoredEvent had it at hand (the publish pipeline keeps the bytes it
  // hashed when no default changed the event); empty otherwise, and the
  // store then serializes `event` itself.
  std::string payload;
};

// An alert as the log holds it.
struct StoredAlert {
  // 1-based position in the alert log; the alert's cursor encodes it.
  uint64_t position = 0;
  // Complete, cursor included.
  v1::Alert alert;
  // The alert's deterministic serialization, when whoever made this
  // StoredAlert had it at hand (the publish pipeline encodes each new alert
  // once; the store reads it from disk); empty otherwise. Subscribers'
  // responses and the store's rows are built from it, so that an alert is
  // serialized once, not once per subscriber.
  std::string payload;
};

// What idempotency needs to know about an event id already in the log.
struct EventRecord {
  uint64_t sequence = 0;
  std::string content_hash;
  std::vector<std::string> alert_ids;
};

// The end of the log, and how much of its start retention removed.
struct LogHead {
  uint64_t last_sequence = 0;        // 0 when there is no event
  uint64_t last_alert_position = 0;  // 0 when there is no alert
  absl::Time last_committed_at = absl::InfinitePast();
  // Retention's trim marks (0: nothing removed). The events at sequences
  // 1..events_trimmed_through keep their id, content hash, commit time and
  // alert ids but no payload; the alerts at positions
  // 1..alerts_trimmed_through are gone, so the oldest kept alert is at
  // alerts_trimmed_through + 1 (when that is <= last_alert_position).
  uint64_t events_trimmed_through = 0;
  uint64_t alerts_trimmed_through = 0;
};

// The alert engine's state (AlertEngine::SaveState) right after the event at
// `sequence` was applied, when the alert log ended at `alert_position`.
// Retention removes event payloads only up to the newest snapshot, and the
// publish pipeline's recovery starts from it.
struct EngineSnapshot {
  uint64_t sequence = 0;
  uint64_t alert_position = 0;
  std::string state;
  absl::Time created_at;
};

// A durable subscription as the store holds it (DESIGN.md: a name and a
// cursor, not a filter).
struct SubscriptionRecord {
  std::string name;
  // The alert position of the last acknowledged alert (0: none).
  uint64_t position = 0;
  // When it was created, moved or last advanced.
  absl::Time updated_at;
};

// An alert a webhook sink gave up on (its dead-letter list), keyed by sink
// name and alert position.
struct DeadLetterRecord {
  std::string sink;
  // The alert's position in the alert log.
  uint64_t position = 0;
  // Complete, cursor included (kept whole, so that redelivery does not
  // depend on the alert still being in the log).
  v1::Alert alert;
  // Attempts made over all deliveries.
  int attempts = 0;
  std::string last_error;
  absl::Time failed_at;
  // Queued for redelivery and not yet delivered.
  bool requeued = false;
};

// The durable log of events and the alerts derived from them.
//
// There is one writer (the publish pipeline) and any number of readers
// (subscribers catching up, listings). Implementations are safe for
// concurrent use from multiple threads; readers see only committed data and
// never block the writer for long. Every method may block on disk I/O: call
// it off gRPC reaction threads.
//
// Errors: UNAVAILABLE when the store is busy or closing (retryable), INTERNAL
// for anything else unexpected (the message is for the server log).
class EventStore {
 public:
  EventStore() = default;
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;
  virtual ~EventStore() = default;

  // The newest committed sequence and alert position, and the last event's
  // committed_at (the latest: see Append), all read from one committed
  // state of the log.
  virtual absl::StatusOr<LogHead> Head() = 0;

  // Looks up `event_ids`; for each one in the log, sets found[id]. Ids not
  // in the log are absent from `found`.
  virtual absl::Status LookupEvents(
      absl::Span<const std::string> event_ids,
      absl::flat_hash_map<std::string, EventRecord>* found) = 0;

  // Durably appends `events` and `alerts` in one transaction: when it
  // returns OK, all of them are committed (fsynced); otherwise none are.
  // Sequences and positions must continue the log without gaps,
  // committed_at must not decrease along the event log, event ids and alert
  // ids must be new, and each alert's `alert.event().event_id` must name an
  // event of this call or of the log (INTERNAL otherwise: these are the
  // caller's bugs). Empty spans are an OK no-op. Many publish batches
  // share one call (group commit).
  virtual absl::Status Append(absl::Span<const StoredEvent> events,
                              absl::Span<const StoredAlert> alerts) = 0;

  // Appends to `out` up to `max_count` events with sequence > `after`, in
  // order, skipping the events whose payload retention removed (sequences
  // up to LogHead::events_trimmed_through): an event handed out always has
  // its payload.
  virtual absl::Status ReadEvents(uint64_t after, size_t max_count,
                                  std::vector<StoredEvent>* out) = 0;

  // Appends to `out` alerts with position > `after`, in order: at most
  // `max_count`, and no more than fit in `max_bytes` (the sum of their
  // serialized sizes, Alert::ByteSizeLong(), stays <= max_bytes), except that
  // the first alert is always returned when there is one and max_count > 0,
  // however large it is. OUT_OF_RANGE when retention removed an alert
  // after `after` (after < LogHead::alerts_trimmed_through): the message
  // names the oldest cursor still available. Never skips an alert silently.
  virtual absl::Status ReadAlerts(uint64_t after, size_t max_count,
                                  size_t max_bytes,
                                  std::vector<StoredAlert>* out) = 0;

  // The position of the last alert created strictly before `t` (0 when
  // none), so that reading after it yields alerts created at or after `t`.
  // Relies on created_at being non-decreasing in position, which the
  // publish pipeline guarantees (created_at is the commit time).
  virtual absl::StatusOr<uint64_t> AlertPositionBefore(absl::Time t) = 0;

  // Retention. Writes are durable when they return OK, and each call is one
  // short transaction, so that publishers' commits interleave with a long
  // trim done as many calls.

  // The sequence of the last event committed strictly before `t` (0 when
  // none). Relies on committed_at being non-decreasing in sequence, which
  // the publish pipeline guarantees. Blocks for O(log n) reads.
  virtual absl::StatusOr<uint64_t> EventSequenceBefore(absl::Time t) = 0;

  // Stores `snapshot` (replacing one at the same sequence). INTERNAL when
  // its sequence or alert position is beyond the log's head.
  virtual absl::Status PutSnapshot(const EngineSnapshot& snapshot) = 0;

  // The snapshot with the highest sequence, or nullopt when there is none.
  virtual absl::StatusOr<std::optional<EngineSnapshot>> NewestSnapshot() = 0;

  // Removes the payloads of the events not yet trimmed with sequence <=
  // min(`through`, the newest snapshot's sequence, the head), at most
  // `max_rows` of them, and deletes the snapshots older than the newest.
  // Returns the new LogHead::events_trimmed_through (unchanged when there
  // is no snapshot: event payloads are never removed that replay needs).
  virtual absl::StatusOr<uint64_t> TrimEvents(uint64_t through,
                                              size_t max_rows) = 0;

  // Deletes the alerts not yet trimmed with position <= min(`through`, the
  // head), at most `max_rows` of them. Returns the new
  // LogHead::alerts_trimmed_through.
  virtual absl::StatusOr<uint64_t> TrimAlerts(uint64_t through,
                                              size_t max_rows) = 0;

  // Durable subscriptions. Names are checked by the caller. Writes are
  // durable (committed) when they return OK.

  // The position of subscription `name`, or nullopt when there is none.
  virtual absl::StatusOr<std::optional<uint64_t>> GetSubscription(
      absl::string_view name) = 0;

  // Creates subscription `name` at `position`, or moves it there (also
  // backwards: a seek), stamping it with `now`.
  virtual absl::Status PutSubscription(absl::string_view name,
                                       uint64_t position, absl::Time now) = 0;

  // Moves subscription `name` forward to `position` (a cumulative ack):
  // when it already is at or past `position`, an OK no-op. NOT_FOUND when
  // there is no such subscription.
  virtual absl::Status AdvanceSubscription(absl::string_view name,
                                           uint64_t position,
                                           absl::Time now) = 0;

  // Deletes subscription `name`; NOT_FOUND when there is none.
  virtual absl::Status DeleteSubscription(absl::string_view name) = 0;

  // Every subscription, ordered by name.
  virtual absl::StatusOr<std::vector<SubscriptionRecord>>
  ListSubscriptions() = 0;

  // Dead letters of webhook sinks. Writes are durable when they return OK.

  // Inserts `record`, or replaces the one with the same sink and position
  // (so that giving up on an alert twice, e.g. after a crash before the
  // sink's cursor moved, keeps one dead letter).
  virtual absl::Status PutDeadLetter(const DeadLetterRecord& record) = 0;

  // Appends to `out` up to `max_count` dead letters of `sink` by position;
  // with `requeued_only`, only those queued for redelivery. Sets `*total`
  // (when not null) to the number of dead letters of `sink` (all of them).
  virtual absl::Status ListDeadLetters(absl::string_view sink,
                                       bool requeued_only, size_t max_count,
                                       std::vector<DeadLetterRecord>* out,
                                       int64_t* total) = 0;

  // Queues every dead letter of `sink` for redelivery; returns how many
  // were queued (already queued ones included).
  virtual absl::StatusOr<int64_t> RequeueDeadLetters(
      absl::string_view sink) = 0;

  // Deletes the dead letter of `sink` at `position`; OK when there is none.
  virtual absl::Status DeleteDeadLetter(absl::string_view sink,
                                        uint64_t position) = 0;
};

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_EVENT_STORE_H_

#ifndef DIPWIRE_SERVER_SQLITE_EVENT_STORE_H_
#define DIPWIRE_SERVER_SQLITE_EVENT_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/event_store.h"

namespace dipwire::server {

struct SqliteEventStoreOptions {
  // The directory that holds the database (created with mode 0700, parents
  // included, if missing). Required.
  std::string data_dir;
  // Read connections kept open for concurrent readers; at least 1. A reader
  // that finds all of them busy waits for one.
  int read_connections = 4;
};

// The embedded EventStore: one SQLite database, dipwire.db, in WAL mode with
// synchronous=FULL, in the data directory. One write connection (the single
// writer) and a small pool of read connections, so readers never wait for
// the writer's fsync.
//
// A SqliteEventStore is safe for concurrent use from multiple threads
// without external synchronization. Appends are serialized; reads run in
// parallel on the read connections and see only committed transactions,
// each call (each SELECT) one consistent state of the log.
//
// Invariants of the database, kept by every Append transaction:
//  - events.seq is 1..last_sequence without gaps and alerts.pos is
//    1..last_alert_position without gaps;
//  - an event and the alerts appended with it become visible together;
//  - PRAGMA application_id identifies a dipwire database and
//    PRAGMA user_version is its schema version.
//
// While it is open, the store holds an exclusive lock on data_dir/LOCK: one
// process, one store per data directory (the single-writer invariants above
// depend on it).
class SqliteEventStore final : public EventStore {
 public:
  // Opens (creating if needed) the store in options.data_dir. Returns
  // INVALID_ARGUMENT when the directory cannot be created or used or
  // read_connections < 1, FAILED_PRECONDITION when the database belongs to a
  // newer schema, is not a dipwire database, or another store (in this or
  // another process) has the directory open, INTERNAL for other SQLite
  // errors. Blocks on disk I/O.
  static absl::StatusOr<std::unique_ptr<SqliteEventStore>> Open(
      const SqliteEventStoreOptions& options);

  // Closes the connections (checkpointing the WAL) and releases the lock.
  // No call may be in flight.
  ~SqliteEventStore() override;

  absl::StatusOr<LogHead> Head() override;
  // Runs on the write connection, not a read connection: its caller is the
  // single writer, just before it appends, and the writer's page cache is
  // current. It waits while an Append or another write runs.
  absl::Status LookupEvents(
      absl::Span<const std::string> event_ids,
      absl::flat_hash_map<std::string, EventRecord>* found) override;
  // Besides the EventStore contract: committed_at and created_at are stored
  // in nanoseconds and must lie in 1678..2261 (INTERNAL otherwise).
  absl::Status Append(absl::Span<const StoredEvent> events,
                      absl::Span<const StoredAlert> alerts) override;
  absl::Status ReadEvents(uint64_t after, size_t max_count,
                          std::vector<StoredEvent>* out) override;
  absl::Status ReadAlerts(uint64_t after, size_t max_count, size_t max_bytes,
                          std::vector<StoredAlert>* out) override;
  absl::StatusOr<uint64_t> AlertPositionBefore(absl::Time t) override;
  // Snapshots live in the table `engine_snapshots` and the trim marks in
  // `meta`, created on open when a database made before them lacks them
  // (like `subscriptions`). A trimmed event keeps its row with an empty
  // payload; a trimmed alert's row is deleted. SQLite reuses the freed pages;
  // the file does not shrink.
  absl::StatusOr<uint64_t> EventSequenceBefore(absl::Time t) override;
  absl::Status PutSnapshot(const EngineSnapshot& snapshot) override;
  absl::StatusOr<std::optional<EngineSnapshot>> NewestSnapshot() override;
  absl::StatusOr<uint64_t> TrimEvents(uint64_t through,
                                      size_t max_rows) override;
  absl::StatusOr<uint64_t> TrimAlerts(uint64_t through,
                                      size_t max_rows) override;
  // Subscriptions live in the table `subscriptions`, created on open when a
  // database made before it lacks it. updated_at must lie in 1678..2261.
  absl::StatusOr<std::optional<uint64_t>> GetSubscription(
      absl::string_view name) override;
  absl::Status PutSubscription(absl::string_view name, uint64_t position,
                               absl::Time now) override;
  absl::Status AdvanceSubscription(absl::string_view name, uint64_t position,
                                   absl::Time now) override;
  absl::Status DeleteSubscription(absl::string_view name) override;
  absl::StatusOr<std::vector<SubscriptionRecord>> ListSubscriptions() override;
  // Dead letters live in the table `dead_letters`, created on open when a
  // database made before it lacks it (like `subscriptions`).
  absl::Status PutDeadLetter(const DeadLetterRecord& record) override;
  absl::Status ListDeadLetters(absl::string_view sink, bool requeued_only,
                               size_t max_count,
                               std::vector<DeadLetterRecord>* out,
                               int64_t* total) override;
  absl::StatusOr<int64_t> RequeueDeadLetters(absl::string_view sink) override;
  absl::Status DeleteDeadLetter(absl::string_view sink,
                                uint64_t position) override;

  // The database file's name inside data_dir.
  static constexpr absl::string_view kFileName = "dipwire.db";
  // The schema version this build writes and understands.
  static constexpr int kSchemaVersion = 1;

 private:
  class Impl;
  explicit SqliteEventStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_SQLITE_EVENT_STORE_H_

#ifndef DIPWIRE_SERVER_SQLITE_EVENT_STORE_H_
#define DIPWIRE_SERVER_SQLITE_EVENT_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/event_store.h"

namespace dipwire::server {

struct SqliteEventStoreOptions {
  // The directory that holds the database (created if missing).
  std::string data_dir;
  // Read connections kept open for concurrent readers.
  int read_connections = 4;
};

// The embedded EventStore: one SQLite database, dipwire.db, in WAL mode with
// synchronous=FULL, in the data directory. One write connection (the single
// writer) and a small pool of read connections, so readers never wait for
// the writer's fsync.
//
// Safe for concurrent use from multiple threads.
class SqliteEventStore final : public EventStore {
 public:
  // Opens (creating if needed) the store in options.data_dir. Returns
  // INVALID_ARGUMENT when the directory cannot be created or used,
  // FAILED_PRECONDITION when the database belongs to a newer schema or is
  // not a dipwire database, INTERNAL for other SQLite errors.
  static absl::StatusOr<std::unique_ptr<SqliteEventStore>> Open(
      const SqliteEventStoreOptions& options);

  ~SqliteEventStore() override;

  absl::StatusOr<LogHead> Head() override;
  absl::Status LookupEvents(
      absl::Span<const std::string> event_ids,
      absl::flat_hash_map<std::string, EventRecord>* found) override;
  absl::Status Append(absl::Span<const StoredEvent> events,
                      absl::Span<const StoredAlert> alerts) override;
  absl::Status ReadEvents(uint64_t after, size_t max_count,
                          std::vector<StoredEvent>* out) override;
  absl::Status ReadAlerts(uint64_t after, size_t max_count, size_t max_bytes,
                          std::vector<StoredAlert>* out) override;
  absl::StatusOr<uint64_t> AlertPositionBefore(absl::Time t) override;

 private:
  class Impl;
  explicit SqliteEventStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_SQLITE_EVENT_STORE_H_

#ifndef DIPWIRE_SERVER_RETENTION_H_
#define DIPWIRE_SERVER_RETENTION_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "server/alert_hub.h"
#include "server/event_store.h"
#include "server/metrics.h"
#include "server/publish_pipeline.h"

namespace dipwire::server {

// Retention (README.md, "Retention"; DESIGN.md, "Storage"): how much of the
// start of the event and alert logs dipwired keeps, and the background task
// that removes the rest.

// What to keep of one log: the newest `count` records, or those committed
// within `age` of now. At most one is set; neither means keep everything.
struct RetentionSpec {
  uint64_t count = 0;
  absl::Duration age = absl::ZeroDuration();

  [[nodiscard]] bool enabled() const {
    return count > 0 || age > absl::ZeroDuration();
  }
};

// Parses a SPEC, the value of the flag or field `name` ("--retain-events"):
// a count ("1000000", at least 1) or an age, a whole number of at least 1
// with a unit d, h, m or s ("30d", "12h", "90m", "3600s"). Empty: keep
// everything. INVALID_ARGUMENT naming `name` and the value otherwise.
absl::StatusOr<RetentionSpec> ParseRetentionSpec(absl::string_view text,
                                                 absl::string_view name);

// The SPEC `spec` was parsed from ("30d" comes back as "720h"); "all" when
// it keeps everything.
std::string FormatRetentionSpec(const RetentionSpec& spec);

// Parses the retention pass interval, the value of `name`: an absl
// duration ("60s", "500ms", "1h30m") between 10ms and 24h.
// INVALID_ARGUMENT naming `name` and the value otherwise.
absl::StatusOr<absl::Duration> ParseRetentionInterval(absl::string_view text,
                                                      absl::string_view name);

struct RetentionOptions {
  RetentionSpec events;  // --retain-events
  RetentionSpec alerts;  // --retain-alerts
  // --retention-interval: the time between two passes.
  absl::Duration interval = absl::Seconds(60);
  // Rows removed per store transaction at most, so that publishers' group
  // commits interleave with a long trim.
  size_t chunk_rows = 5000;

  [[nodiscard]] bool enabled() const {
    return events.enabled() || alerts.enabled();
  }
};

// The background task that applies RetentionOptions: one pass at start and
// then one every `interval`. A pass deletes the alerts beyond --retain-alerts
// (after telling the hub, so that new streams are not started among them)
// and removes the payloads of the events beyond --retain-events, up to an
// engine snapshot the publish pipeline takes at its head when the newest
// one does not reach far enough. Each store call is one short transaction
// of at most chunk_rows rows: publishers are never blocked for long.
//
// Safe for concurrent use; RunOnce and the background thread are
// serialized.
class Retention {
 public:
  // Starts the thread. `store`, `hub`, `pipeline` and `clock` must outlive
  // the Retention.
  static std::unique_ptr<Retention> Start(const RetentionOptions& options,
                                          EventStore* store, AlertHub* hub,
                                          PublishPipeline* pipeline,
                                          Clock* clock);

  // Stops and joins the thread.
  ~Retention();
  Retention(const Retention&) = delete;
  Retention& operator=(const Retention&) = delete;

  // Ends the pass in progress after its current chunk and joins the
  // thread. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Runs one pass now, on the caller's thread. Errors are the store's or
  // the pipeline's (UNAVAILABLE when it is stopping).
  absl::Status RunOnce() ABSL_LOCKS_EXCLUDED(pass_mu_);

 private:
  Retention(const RetentionOptions& options, EventStore* store, AlertHub* hub,
            PublishPipeline* pipeline, Clock* clock);

  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status TrimAlerts(const LogHead& head, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(pass_mu_);
  absl::Status TrimEvents(const LogHead& head, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(pass_mu_);
  // Calls `trim` (one store transaction, returning the new trim mark) from
  // `mark` until the mark reaches `through`, stops moving, or Stop is
  // called; counts what went into `trimmed`.
  absl::Status TrimInChunks(
      uint64_t mark, uint64_t through,
      const std::function<absl::StatusOr<uint64_t>()>& trim, Counter* trimmed)
      ABSL_LOCKS_EXCLUDED(mu_);
  [[nodiscard]] bool stopping() const ABSL_LOCKS_EXCLUDED(mu_);

  // Const after construction.
  const RetentionOptions options_;
  EventStore* const store_;
  AlertHub* const hub_;
  PublishPipeline* const pipeline_;
  Clock* const clock_;

  std::thread thread_;  // touched only by Start and Stop

  // Held for a whole pass.
  absl::Mutex pass_mu_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_RETENTION_H_

#ifndef DIPWIRE_SERVER_WEBHOOK_SINKS_H_
#define DIPWIRE_SERVER_WEBHOOK_SINKS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "dipwire/v1/alerts.pb.h"
#include "server/alert_hub.h"
#include "server/event_store.h"
#include "server/server_config.h"

namespace dipwire::server {

// The webhook sinks of a server (README.md, "Webhook sinks"): each one POSTs
// the alerts that pass its filter to its URL, one alert per request, in log
// order, at least once.
//
// Each sink is a durable subscription kept in the store under the name
// "_sink.<name>" (a name clients cannot use) and read straight from the
// store, not through the hub's streams. Its cursor moves past an alert only
// once the endpoint answered 2xx, or once the alert was given up on and
// written to the sink's dead letters: a restart, even a kill -9, resumes
// after the last alert done with, so an alert may be delivered again (the
// receiver dedups by `webhook-id`, the alert id) but is never lost. A failed
// attempt (transport error, timeout, non-2xx answer) is retried after an
// exponential backoff with +-20% jitter; after max_attempts the alert goes to
// the dead letters and the sink moves on.
//
// One thread per sink, so a slow or dead endpoint delays only its own sink;
// publishers and subscribers never wait for a sink. Stop aborts transfers in
// flight (within about a second).
//
// Safe for concurrent use from multiple threads.
class WebhookSinks {
 public:
  // Creates each sink's subscription when it has none (at the newest alert,
  // or before the first for start EARLIEST) and starts the threads. `store`,
  // `hub` and `clock` must outlive the WebhookSinks; `hub` must be started.
  // Errors are the store's. Blocks on the store.
  static absl::StatusOr<std::unique_ptr<WebhookSinks>> Start(
      std::vector<SinkSpec> specs, EventStore* store, AlertHub* hub,
      Clock* clock);

  // Stops the threads (see Stop).
  ~WebhookSinks();
  WebhookSinks(const WebhookSinks&) = delete;
  WebhookSinks& operator=(const WebhookSinks&) = delete;

  // Stops every sink and joins its thread: an alert being delivered is
  // abandoned without moving the cursor (it is delivered again after a
  // restart). Idempotent. Blocks for about a second at most.
  void Stop();

  // Every sink, in configuration order, with its cursor, lag and number of
  // dead letters. Never returns a secret. Blocks on the store.
  absl::StatusOr<std::vector<v1::Sink>> List();

  // The dead letters of sink `name`, oldest first, at most `max_count`, and
  // how many there are. NOT_FOUND for an unknown sink. Blocks on the store.
  absl::StatusOr<v1::ListDeadLettersResponse> ListDeadLetters(
      absl::string_view name, size_t max_count);

  // Queues every dead letter of sink `name` for redelivery and wakes the
  // sink; returns how many were queued. NOT_FOUND for an unknown sink.
  // Blocks on the store.
  absl::StatusOr<int64_t> Redeliver(absl::string_view name);

  // The subscription name of sink `name`.
  static std::string SubscriptionName(absl::string_view name);

 private:
  class Worker;
  WebhookSinks(EventStore* store, AlertHub* hub,
               std::vector<std::unique_ptr<Worker>> workers);
  Worker* Find(absl::string_view name) const;
  static absl::Status UnknownSink(absl::string_view name);

  EventStore* const store_;
  AlertHub* const hub_;
  const std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_WEBHOOK_SINKS_H_

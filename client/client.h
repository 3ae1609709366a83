#ifndef DIPWIRE_CLIENT_CLIENT_H_
#define DIPWIRE_CLIENT_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dipwire/v1/alerts.pb.h"

namespace dipwire::client {

// How to reach a dipwired server.
struct ClientOptions {
  // gRPC target, e.g. "127.0.0.1:50051" or "dns:///alerts.example:443".
  std::string server = "127.0.0.1:50051";
  // The deadline of each unary call (Publish, ListAlerts, ...), counted from
  // the moment the call starts. Subscribe streams have none.
  absl::Duration call_timeout = absl::Seconds(30);
};

// One Subscribe stream: the responses of the server in order, then the
// stream's final status.
//
// A reader thread owned by the stream receives responses ahead of the
// consumer, at most a small fixed number of them (so a slow consumer makes
// the server slow down rather than this process grow).
//
// Next may be called from one thread at a time; Cancel from any thread,
// concurrently with Next. The destructor cancels the stream if it is still
// running and waits for the reader thread; it must not run concurrently
// with Next or Cancel. An AlertStream may outlive the Client that made it.
class AlertStream {
 public:
  class Impl;  // Defined in client.cc; holds the gRPC call.

  explicit AlertStream(std::unique_ptr<Impl> impl);
  AlertStream(const AlertStream&) = delete;
  AlertStream& operator=(const AlertStream&) = delete;
  ~AlertStream();

  // Blocks until the next response arrives or the stream ends.
  // Returns true with `*out` set to the next response (alerts, or a lone
  // heartbeat); false when the server ended the stream with OK; otherwise
  // the stream's final status as the server (or gRPC) reported it, e.g.
  // UNAVAILABLE when the server cannot be reached, INVALID_ARGUMENT for a
  // bad filter or cursor, ABORTED when another stream took over the durable
  // subscription. After Cancel, returns CANCELLED. Once the stream has
  // ended, every later call returns the same result. `out` must not be null.
  absl::StatusOr<bool> Next(v1::SubscribeResponse* out);

  // Like Next(out), but waits at most `timeout`: returns DEADLINE_EXCEEDED
  // when nothing arrived in that time. The stream stays usable then: a later
  // Next gets the responses that follow.
  absl::StatusOr<bool> Next(v1::SubscribeResponse* out, absl::Duration timeout);

  // Ends the stream: tells the server, wakes a blocked Next, and makes every
  // later Next return CANCELLED (responses already received and not yet
  // returned are dropped). Idempotent; does not block on the network.
  // Thread-safe, but not async-signal-safe: call it from an ordinary thread,
  // e.g. one waiting in sigwait, never from inside a signal handler.
  void Cancel();

 private:
  const std::unique_ptr<Impl> impl_;
};

// One PublishStream call, for high-rate ingest: requests go out as fast as
// flow control allows and the server answers each one, in order. A request
// that fails is answered by a response whose `error` says why (nothing of
// it was stored); the stream goes on.
//
// Send may be called from one thread while Receive is called from another
// (one thread each). The destructor cancels the call if Finish was not
// called; it must not run concurrently with the other methods.
class PublishSession {
 public:
  class Impl;  // Defined in client.cc; holds the gRPC call.

  explicit PublishSession(std::unique_ptr<Impl> impl);
  PublishSession(const PublishSession&) = delete;
  PublishSession& operator=(const PublishSession&) = delete;
  ~PublishSession();

  // Sends one request. Blocks while the transport pushes back. Returns
  // UNAVAILABLE when the call has broken (Finish then tells why).
  absl::Status Send(const v1::PublishRequest& request);

  // Blocks for the next response, in request order. Returns false once the
  // server has answered everything and ended the call (see Finish).
  absl::StatusOr<bool> Receive(v1::PublishResponse* out);

  // Tells the server no more requests follow, then (after every response
  // was received) returns the call's final status. Call once.
  absl::Status Finish();

 private:
  const std::unique_ptr<Impl> impl_;
};

// A typed client for dipwire's AlertService (proto/dipwire/v1/alerts.proto).
// Every unary call carries the deadline ClientOptions::call_timeout, and
// every failure comes back as an absl::Status holding the gRPC status's code
// and message (common/grpc_status.h).
//
// A Client is safe for concurrent use from multiple threads without any
// external synchronization. The channel reconnects by itself; keepalive
// pings detect a dead connection on long streams.
class Client {
 public:
  // Prepares a channel to `options.server`. Does not contact the server: an
  // unreachable server shows up as UNAVAILABLE from the first call. Returns
  // INVALID_ARGUMENT for an empty server address or a call_timeout that is
  // not positive. Uses insecure channel credentials for now (TLS is a
  // later issue).
  static absl::StatusOr<std::unique_ptr<Client>> Connect(
      const ClientOptions& options);

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  // Publishes a batch of events atomically (DESIGN.md, "PublishResponse").
  // Returns one result per event, in order; or INVALID_ARGUMENT naming
  // `events[i]` when an event is invalid (nothing stored), ALREADY_EXISTS
  // when an event_id is known with other content, or a transport error
  // (UNAVAILABLE, DEADLINE_EXCEEDED, ...). Blocks for at most call_timeout.
  absl::StatusOr<v1::PublishResponse> Publish(
      const v1::PublishRequest& request);

  // One page of alert history, oldest first. INVALID_ARGUMENT for a bad
  // filter or page token. Blocks for at most call_timeout.
  absl::StatusOr<v1::ListAlertsResponse> ListAlerts(
      const v1::ListAlertsRequest& request);

  // One page of event history, oldest first. INVALID_ARGUMENT for a bad
  // filter or page token. Blocks for at most call_timeout.
  absl::StatusOr<v1::ListEventsResponse> ListEvents(
      const v1::ListEventsRequest& request);

  // Acknowledges `cursor` for a durable subscription. NOT_FOUND for an
  // unknown subscription, INVALID_ARGUMENT for a cursor past the newest
  // alert. Blocks for at most call_timeout.
  absl::StatusOr<v1::AcknowledgeResponse> Acknowledge(
      const v1::AcknowledgeRequest& request);

  // Every durable subscription with the cursor of its last ack (empty while
  // none). Blocks for at most call_timeout.
  absl::StatusOr<v1::ListSubscriptionsResponse> ListSubscriptions(
      const v1::ListSubscriptionsRequest& request);

  // Deletes a durable subscription. NOT_FOUND for an unknown name,
  // INVALID_ARGUMENT for a malformed one. Blocks for at most call_timeout.
  absl::StatusOr<v1::DeleteSubscriptionResponse> DeleteSubscription(
      const v1::DeleteSubscriptionRequest& request);

  // Starts a PublishStream call. The call has no deadline; errors of the
  // call (unreachable server) come from Send, Receive and Finish.
  absl::StatusOr<std::unique_ptr<PublishSession>> PublishStream();

  // Starts a Subscribe stream and returns at once, without waiting for the
  // server; errors of the call (unreachable server, bad filter) come from
  // the stream's Next. The stream has no deadline. Currently always OK; the
  // StatusOr leaves room for local checks. The caller owns the stream.
  absl::StatusOr<std::unique_ptr<AlertStream>> Subscribe(
      const v1::SubscribeRequest& request);

 private:
  class Impl;
  explicit Client(std::unique_ptr<Impl> impl);

  const std::unique_ptr<Impl> impl_;
};

}  // namespace dipwire::client

#endif  // DIPWIRE_CLIENT_CLIENT_H_

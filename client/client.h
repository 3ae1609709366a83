#ifndef DIPWIRE_CLIENT_CLIENT_H_
#define DIPWIRE_CLIENT_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dipwire/v1/alerts.pb.h"
#include "grpc/health/v1/health.pb.h"

namespace dipwire::client {

// A server's health as grpc.health.v1 reports it.
using HealthStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

// How to reach a dipwired server.
struct ClientOptions {
  // gRPC target, e.g. "127.0.0.1:50051" or "dns:///alerts.example:443".
  std::string server = "127.0.0.1:50051";
  // The deadline of each unary call (Publish, ListAlerts, ...), counted from
  // the moment the call starts. Subscribe streams have none.
  absl::Duration call_timeout = absl::Seconds(30);
  // TLS: a PEM file of the CAs that sign the server's certificate. Setting
  // it (or tls_cert_file) turns TLS on; empty with TLS on: the system's
  // root certificates.
  std::string tls_ca_file;
  // A client certificate and its key (PEM files), for a server that
  // requires one (mutual TLS). Both or neither; they turn TLS on.
  std::string tls_cert_file;
  std::string tls_key_file;
  // With TLS: the name the server's certificate must be valid for, instead
  // of the host of `server` (the CLI's --tls-server-name). For reaching a
  // server by another address than its certificate names, e.g. a health
  // probe on 127.0.0.1 inside the server's own pod.
  std::string tls_server_name;
  // A bearer token sent with every call as "authorization: Bearer <token>"
  // metadata; empty: none. Printable ASCII without spaces. Connect refuses
  // to send it over plaintext to a server that is not on loopback (or a Unix
  // socket), where anyone on the path could read and replay it, unless
  // plaintext_token is set.
  std::string token;
  // Send the token over plaintext to a non-loopback server all the same
  // (the CLI's --plaintext-token): only on a network you trust, e.g. a pod
  // network of a server started with --insecure-listen.
  bool plaintext_token = false;
};

// What a resumable stream (Client::SubscribeResumable) reports about its
// connection, through ReconnectOptions::on_event.
struct ReconnectEvent {
  enum class Kind {
    // The stream ended with a retryable status (or a re-subscribe failed):
    // the stream waits `delay`, then re-subscribes (attempt `attempt`).
    kRetrying,
    // A re-subscribed stream delivered its first response (alerts or a
    // heartbeat) after `attempt` attempts: the stream is live again.
    kResumed,
  };
  Kind kind = Kind::kRetrying;
  // kRetrying: why the stream (or the attempt) ended, e.g. UNAVAILABLE.
  absl::Status status;
  // Counts the re-subscribes since the last response, from 1: kRetrying
  // with attempt 1 is the moment the connection was lost.
  int attempt = 0;
  // kRetrying: the wait before the next attempt.
  absl::Duration delay;
};

// How a resumable Subscribe stream (Client::SubscribeResumable) survives a
// broken connection or a restarted server.
//
// Which statuses are retried: UNAVAILABLE, RESOURCE_EXHAUSTED, and
// CANCELLED that this process did not ask for. UNAVAILABLE is what gRPC reports
// when the server cannot be reached or the connection breaks (kill -9, a
// network failure, a keepalive timeout), and what dipwired ends its streams
// with when it shuts down. A server that is shutting down cancels a call that
// reaches it in the meantime, so a CANCELLED that did not come from Cancel is
// the same outage seen a moment later; after Cancel, CANCELLED is final. On
// Subscribe, RESOURCE_EXHAUSTED is the server's limit of concurrent streams
// (--max-streams; "retry later"), which a reconnecting client meets while
// the server has not yet released its broken stream. Every other
// status is returned by Next at once: INVALID_ARGUMENT / NOT_FOUND /
// OUT_OF_RANGE / FAILED_PRECONDITION would fail the same way again; ABORTED
// means another stream took over the durable subscription (retrying would
// take it back, and the two would fight); UNAUTHENTICATED and
// PERMISSION_DENIED need the caller; INTERNAL is a server bug or a malformed
// response that a person must see rather than a loop hide; an OK end of the
// stream is returned as such.
//
// The schedule follows gRPC's connection backoff: the wait before attempt
// n is min(max_backoff, initial_backoff * multiplier^(n-1)), then
// multiplied by a random factor in [1 - jitter, 1 + jitter] (so a wait can
// exceed max_backoff by up to `jitter`, and many clients cut off together
// do not come back in lockstep). n starts again at 1 once a stream has
// delivered a response. See ReconnectDelay.
struct ReconnectOptions {
  // The wait before the first re-subscribe; must be positive.
  absl::Duration initial_backoff = absl::Milliseconds(100);
  // The cap of the wait before jitter; must be >= initial_backoff.
  absl::Duration max_backoff = absl::Seconds(10);
  // Growth per attempt; must be >= 1.
  double multiplier = 2.0;
  // Relative spread of each wait, in [0, 1]: 0.2 is +-20%.
  double jitter = 0.2;
  // Gives up after this many re-subscribes in a row without a response in
  // between (Next then returns the last retryable status); 0: never.
  int max_attempts = 0;
  // Gives up rather than start an attempt later than this after the
  // connection was lost (counted from the end of the last stream that
  // delivered a response, or from the start); 0: never.
  absl::Duration give_up_after = absl::ZeroDuration();
  // Optional. Called on the stream's reader thread, before the wait of each
  // retry and when a re-subscribed stream delivers its first response (that
  // response is returned by Next only after the call). It must not block
  // for long nor call Next; it may call Cancel. It must stay callable as
  // long as the stream exists.
  std::function<void(const ReconnectEvent&)> on_event;
};

// The wait before re-subscribe attempt `attempt` (1 for the first after a
// break) under `options`, where `unit_random` is a number in [0, 1) drawn
// uniformly (0 gives the shortest wait of the jitter range, 0.5 the
// un-jittered one). Pure; exposed so that the schedule can be tested.
absl::Duration ReconnectDelay(const ReconnectOptions& options, int attempt,
                              double unit_random);

// One Subscribe stream: the responses of the server in order, then the
// stream's final status.
//
// A reader thread owned by the stream receives responses ahead of the
// consumer, at most a small fixed number of them (so a slow consumer makes
// the server slow down rather than this process grow).
//
// A resumable stream (Client::SubscribeResumable) re-subscribes by itself
// when the stream breaks with a retryable status (see ReconnectOptions),
// after the cursor of the last alert Next has returned, so that the caller
// sees every alert once, in order, without a gap. Responses the reader
// thread had received but Next had not returned yet are dropped when it
// re-subscribes: the server sends them again.
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
  // returned are dropped). Also ends the wait of a resumable stream between
  // two attempts. Idempotent; does not block on the network.
  // Thread-safe, but not async-signal-safe: call it from an ordinary thread,
  // e.g. one waiting in sigwait, never from inside a signal handler.
  void Cancel();

  // How many times a resumable stream has re-subscribed so far (attempts
  // started, whether or not they succeeded); always 0 for a plain stream.
  // Thread-safe.
  int64_t reconnects() const;

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
// external synchronization. The channel reconnects by itself (waiting at
// most 10 s between connection attempts); keepalive pings detect a dead
// connection on long streams. A stream that breaks ends, unless it was
// started with SubscribeResumable.
class Client {
 public:
  // Prepares a channel to `options.server`. Does not contact the server: an
  // unreachable server shows up as UNAVAILABLE from the first call. Returns
  // INVALID_ARGUMENT for an empty server address, a call_timeout that is
  // not positive, a TLS file that cannot be read, a certificate without
  // its key (or the reverse), or a token that cannot go in metadata (the
  // message never quotes the token). Reads the TLS files; blocks on that
  // file I/O only.
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

  // The server's webhook sinks, in configuration order: name, URL (user
  // info and query redacted), filter, format, whether a secret is set (never
  // the secret), cursor, lag and dead-letter count. Blocks for at most
  // call_timeout.
  absl::StatusOr<v1::ListSinksResponse> ListSinks(
      const v1::ListSinksRequest& request);

  // The dead letters of a sink, oldest first (at most 1000, and the total).
  // NOT_FOUND for an unknown sink. Blocks for at most call_timeout.
  absl::StatusOr<v1::ListDeadLettersResponse> ListDeadLetters(
      const v1::ListDeadLettersRequest& request);

  // Queues a sink's dead letters for redelivery; they are removed once
  // delivered. NOT_FOUND for an unknown sink. Blocks for at most
  // call_timeout.
  absl::StatusOr<v1::RedeliverDeadLettersResponse> RedeliverDeadLetters(
      const v1::RedeliverDeadLettersRequest& request);

  // The health of `service` on the server (grpc.health.v1 Check): "" is the
  // server as a whole, and dipwired also knows "dipwire.v1.AlertService".
  // dipwired is SERVING once its store is open and its log replayed, and
  // NOT_SERVING from the start of its shutdown. NOT_FOUND for a service the
  // server does not know, UNAVAILABLE when it cannot be reached. Needs no
  // token. Blocks for at most call_timeout.
  absl::StatusOr<HealthStatus> CheckHealth(const std::string& service);

  // Starts a PublishStream call. The call has no deadline; errors of the
  // call (unreachable server) come from Send, Receive and Finish.
  absl::StatusOr<std::unique_ptr<PublishSession>> PublishStream();

  // Starts a Subscribe stream and returns at once, without waiting for the
  // server; errors of the call (unreachable server, bad filter) come from
  // the stream's Next. The stream has no deadline. Currently always OK; the
  // StatusOr leaves room for local checks. The caller owns the stream.
  absl::StatusOr<std::unique_ptr<AlertStream>> Subscribe(
      const v1::SubscribeRequest& request);

  // Like Subscribe, but the stream survives a broken connection or a
  // restarted server: when it ends with a retryable status it waits (see
  // ReconnectOptions) and subscribes again with `after_cursor` set to the
  // cursor of the last alert its Next returned (or the head_cursor of a
  // heartbeat returned after it, which covers the alerts the filter passed
  // over), or, while it has returned neither, with `request` unchanged.
  // Next blocks through the wait; every other status reaches Next at once.
  // Returns INVALID_ARGUMENT when `options` is out of range (see
  // ReconnectOptions).
  //
  // With a durable `subscription`, a re-subscribe with `after_cursor` moves
  // (seeks) the subscription there, as the server does for any start:
  // acknowledge each alert before asking for the next response (as
  // `dipwire subscribe` does), or expect the stored cursor to move past
  // alerts returned but not acknowledged. A heartbeat with an empty
  // head_cursor (the stream stands before the first alert: the log was
  // empty) makes the re-subscribe start at EARLIEST. A stream that breaks
  // before its first response (the server sends a heartbeat at once)
  // starts again with `request` unchanged.
  absl::StatusOr<std::unique_ptr<AlertStream>> SubscribeResumable(
      const v1::SubscribeRequest& request, ReconnectOptions options);

 private:
  class Impl;
  explicit Client(std::unique_ptr<Impl> impl);

  const std::unique_ptr<Impl> impl_;
};

}  // namespace dipwire::client

#endif  // DIPWIRE_CLIENT_CLIENT_H_

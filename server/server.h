#ifndef DIPWIRE_SERVER_SERVER_H_
#define DIPWIRE_SERVER_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/limits.h"
#include "server/retention.h"
#include "server/server_config.h"

namespace dipwire::server {

struct ServerOptions {
  // HOST:PORT to listen on; port 0 picks a free one.
  std::string listen = "127.0.0.1:50051";
  // Where the embedded store keeps its database.
  std::string data_dir = "./data";
  // What one request, one client and all publishers together may ask of
  // the server (README.md, "Limits").
  Limits limits;
  // Webhook sinks (the config file's `sinks`, checked: see SinkSpecs).
  std::vector<SinkSpec> sinks;
  // TLS on the gRPC port; plaintext when tls.cert_file is empty.
  TlsFiles tls;
  // Bearer tokens (see TokenSpecs). Empty: calls need no token.
  std::vector<TokenSpec> tokens;
  // Serve a non-loopback address without authentication (see
  // CheckServerOptions, which Start applies).
  bool insecure_listen = false;
  // HOST:PORT of the Prometheus endpoint (GET /metrics); empty: none.
  std::string metrics_listen;
  // --retain-events, --retain-alerts, --retention-interval (README.md,
  // "Retention"). Default: keep everything.
  RetentionOptions retention;
};

// A running dipwired: the store, the log replayed into the alert engine, the
// fan-out hub and the gRPC server, wired together.
//
// Safe for concurrent use; Shutdown may be called from any thread.
class Server {
 public:
  // Opens the store, replays the log, starts the webhook sinks and the
  // retention task, and starts serving. Blocks until the server listens.
  // Errors: INVALID_ARGUMENT from CheckServerOptions, FAILED_PRECONDITION
  // when event retention is asked of a build whose alert engine cannot
  // restore a snapshot, the store's (see SqliteEventStore::Open), or
  // UNAVAILABLE when the address (or the metrics address) cannot be bound
  // or the TLS files are not a usable certificate and key.
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      const ServerOptions& options);

  // Shuts down (with a short deadline) if Shutdown was not called.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port, and "host:port" with it.
  int port() const;
  std::string address() const;
  // Events replayed from the store on start.
  uint64_t replayed_events() const;
  // "host:port" of the metrics endpoint as bound; empty without one.
  std::string metrics_address() const;

  // Reports NOT_SERVING on grpc.health.v1, stops accepting calls, ends
  // every Subscribe stream with UNAVAILABLE,
  // lets in-flight publishes commit and answer, waits at most `deadline`
  // for calls to finish (then cancels them), stops the webhook sinks
  // (abandoning deliveries in flight, which resume after a restart), and
  // closes the store.
  // Idempotent.
  void Shutdown(absl::Duration deadline);

 private:
  class Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_SERVER_H_

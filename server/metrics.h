#ifndef DIPWIRE_SERVER_METRICS_H_
#define DIPWIRE_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dipwire/v1/alerts.pb.h"

namespace dipwire::server {

// Prometheus metrics of dipwired (README.md, "Operations"): counters and
// latency histograms updated where the facts happen, gauges computed when
// /metrics is scraped, the text exposition format, and a small HTTP server
// for GET /metrics.
//
// Counters and histograms are lock-free atomics over fixed arrays: updating
// one never allocates and never takes a lock.

// A count that only goes up (a Prometheus counter). Thread-safe.
class Counter {
 public:
  void Increment(uint64_t n = 1) {
    value_.fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A histogram of durations in seconds over fixed buckets (a Prometheus
// histogram), from 100 us to 10 s. Thread-safe. A scrape that runs during
// an Observe may see its bucket without its sum, never a torn value.
class LatencyHistogram {
 public:
  // Upper bounds of the buckets, in seconds; a last bucket is +Inf.
  static constexpr std::array<double, 14> kBounds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
      0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   10.0};

  void Observe(std::chrono::steady_clock::duration elapsed);

  // Per-bucket counts (not cumulative; the last is above every bound) and
  // the sum of what was observed, in seconds.
  struct Snapshot {
    std::array<uint64_t, kBounds.size() + 1> buckets{};
    double sum_seconds = 0;
  };
  Snapshot snapshot() const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> sum_nanos_{0};
};

// Observes the time from its construction to its destruction into a
// histogram, e.g. at the top of a function:
//   const ScopedTimer timer(&GlobalMetrics().commit_seconds);
class ScopedTimer {
 public:
  // `histogram` must outlive the timer.
  explicit ScopedTimer(LatencyHistogram* histogram)
      : histogram_(histogram), start_(std::chrono::steady_clock::now()) {}
  ~ScopedTimer() {
    histogram_->Observe(std::chrono::steady_clock::now() - start_);
  }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  LatencyHistogram* const histogram_;
  const std::chrono::steady_clock::time_point start_;
};

// The counters and histograms of a server. Thread-safe: every member is.
struct ServerMetrics {
  // Number of absl::StatusCode values (OK through UNAUTHENTICATED).
  static constexpr size_t kStatusCodes = 17;
  // Number of v1::Alert::Type values, TYPE_UNSPECIFIED included.
  static constexpr size_t kAlertTypes = v1::Alert::Type_ARRAYSIZE;

  // Records the answer to a publish request of `events` events (Publish, or
  // one request of PublishStream) received at `received`: each result's
  // outcome, or the events of a request that failed (nothing of it was
  // stored) under its status code; and the latency.
  void RecordPublish(int events,
                     const absl::StatusOr<v1::PublishResponse>& answer,
                     std::chrono::steady_clock::time_point received);
  // Counts committed alerts by type.
  template <typename StoredAlerts>
  void CountAlerts(const StoredAlerts& stored) {
    for (const auto& entry : stored) {
      alerts[static_cast<size_t>(entry->alert.type()) % kAlertTypes]
          .Increment();
    }
  }

  // Events stored (ACCEPTED) and answered DUPLICATE.
  Counter events_accepted;
  Counter events_duplicate;
  // Events of failed publish requests, by the request's status code.
  std::array<Counter, kStatusCodes> events_rejected;
  // Alerts committed, by v1::Alert::Type.
  std::array<Counter, kAlertTypes> alerts;
  // Alerts written to Subscribe streams (each alert once per stream).
  Counter alerts_delivered;
  // Webhook sink requests answered 2xx, and attempts that failed.
  Counter sink_deliveries;
  Counter sink_failures;
  // Alerts a sink never delivered because retention deleted them first.
  Counter sink_alerts_skipped;
  // Retention: event payloads removed, alerts deleted, and one pass.
  Counter events_trimmed;
  Counter alerts_trimmed;
  LatencyHistogram retention_seconds;
  // From a publish request's arrival to its answer.
  LatencyHistogram publish_seconds;
  // One group commit: the store's transaction, fsync included.
  LatencyHistogram commit_seconds;
};

// The metrics of this process: the server updates them where the facts
// happen (one line each, no plumbing through constructors), as Prometheus
// client libraries do with their default registry. Never destroyed
// (trivially destructible); thread-safe.
ServerMetrics& GlobalMetrics();

// What /metrics reports beside the counters: gauges computed on each scrape
// from the server's state.
struct ScrapedGauges {
  // Subscribe streams open now.
  uint64_t open_streams = 0;
  // PublishStream streams open now.
  uint64_t open_publish_streams = 0;
  // The largest distance, in alerts, from a stream's cursor to the head of
  // the alert log (0 when every stream is caught up).
  uint64_t max_subscriber_lag = 0;
  // The store's files on disk (database and write-ahead log), in bytes.
  uint64_t store_bytes = 0;
  // The position of the oldest alert retention kept (1 without retention).
  uint64_t oldest_alert_position = 1;
  // Per webhook sink: alerts not yet done with, and dead letters.
  struct Sink {
    std::string name;
    uint64_t lag = 0;
    uint64_t dead_letters = 0;
  };
  std::vector<Sink> sinks;
};

// `metrics` and `gauges` in the Prometheus text exposition format 0.0.4:
// a HELP and TYPE line per family, then its samples.
std::string RenderMetrics(const ServerMetrics& metrics,
                          const ScrapedGauges& gauges);

// A minimal HTTP/1.1 server for Prometheus: GET /metrics answers 200 with
// the text `render` returns; any other path is 404 and any other method 405.
// One thread owned by the server serves every connection from one poll loop
// (non-blocking sockets, per-connection state), so a slow or idle client
// never delays another. At most 16 connections are open: beyond that the
// oldest one that has its answer or has not yet sent a request is closed. A
// request head must arrive within 2 s of the accept and be at most 8 KiB
// (else 431); an answer must be taken within 5 s. Every answer closes its
// connection: the server shuts down its side, then reads and discards what
// the client still sends (at most 1 s and 64 KiB) so that the answer is not
// lost to a reset.
//
// Thread-safe; Stop may be called from any thread.
class MetricsHttpServer {
 public:
  // Listens on `listen` ("HOST:PORT"; port 0 picks one) and starts the
  // thread. `render` is called on that thread for each scrape and must stay
  // callable until Stop returns. INVALID_ARGUMENT for an address that is not
  // HOST:PORT, UNAVAILABLE when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& listen, std::function<std::string()> render);

  // Stops (see Stop).
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // "host:port" as bound.
  const std::string& address() const { return address_; }

  // Joins the thread (as soon as a scrape being rendered is done), closes the
  // open connections and the socket: later connections are refused.
  // Idempotent.
  void Stop();

 private:
  MetricsHttpServer(int listen_fd, int wake_read_fd, int wake_write_fd,
                    std::string address, std::function<std::string()> render);
  void Loop();

  const int listen_fd_;
  const int wake_read_fd_;
  const int wake_write_fd_;
  const std::string address_;
  const std::function<std::string()> render_;
  std::thread thread_;  // touched only by Start and Stop
  std::atomic<bool> stopped_{false};
};

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_METRICS_H_

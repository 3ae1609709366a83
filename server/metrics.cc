#include "server/metrics.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "server/server_config.h"

namespace dipwire::server {
namespace {

// The status codes a failed publish request gets in practice, reported even
// while zero (so that rate() sees them start); others appear once seen.
constexpr std::array<absl::StatusCode, 4> kRejectReasons = {
    absl::StatusCode::kInvalidArgument, absl::StatusCode::kAlreadyExists,
    absl::StatusCode::kResourceExhausted, absl::StatusCode::kUnavailable};

constexpr size_t kMaxRequestHead = size_t{8} * 1024;
constexpr int kConnectionTimeoutMs = 5000;

// "INVALID_ARGUMENT", as gRPC names the codes.
std::string CodeName(absl::StatusCode code) {
  return absl::AsciiStrToUpper(absl::StatusCodeToString(code));
}

// A label value escaped as the text format wants (backslash, quote and
// newline).
std::string LabelValue(absl::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void Family(std::string* out, absl::string_view name, absl::string_view type,
            absl::string_view help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type,
                  "\n");
}

void Sample(std::string* out, absl::string_view name, absl::string_view labels,
            uint64_t value) {
  absl::StrAppend(out, name, labels.empty() ? "" : "{", labels,
                  labels.empty() ? "" : "}", " ", value, "\n");
}

void Histogram(std::string* out, absl::string_view name, absl::string_view help,
               const LatencyHistogram& histogram) {
  Family(out, name, "histogram", help);
  const LatencyHistogram::Snapshot snapshot = histogram.snapshot();
  uint64_t cumulative = 0;
  for (size_t i = 0; i < snapshot.buckets.size(); ++i) {
    cumulative += snapshot.buckets[i];
    const std::string bound = i < LatencyHistogram::kBounds.size()
                                  ? absl::StrCat(LatencyHistogram::kBounds[i])
                                  : "+Inf";
    Sample(out, absl::StrCat(name, "_bucket"),
           absl::StrCat("le=\"", bound, "\""), cumulative);
  }
  absl::StrAppend(out, name, "_sum ",
                  absl::StrFormat("%.9g", snapshot.sum_seconds), "\n");
  Sample(out, absl::StrCat(name, "_count"), "", cumulative);
}

// Binds and listens on host:port; returns the socket or -1 with `error`.
int Listen(const std::string& host, const std::string& port,
           std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    *error = gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    // Non-blocking: a client that gives up between poll and accept must not
    // block the loop.
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                ai->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 16) != 0) {
      *error = std::strerror(errno);  // NOLINT(concurrency-mt-unsafe)
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  return fd;
}

// The bound port of socket `fd`.
int BoundPort(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

void WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the client went away; nothing to tell it
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void Respond(int fd, absl::string_view status, absl::string_view body,
             absl::string_view content_type = "text/plain; charset=utf-8") {
  WriteAll(fd, absl::StrCat("HTTP/1.1 ", status, "\r\nContent-Type: ",
                            content_type, "\r\nContent-Length: ", body.size(),
                            "\r\nConnection: close\r\n\r\n", body));
}

}  // namespace

void LatencyHistogram::Observe(std::chrono::steady_clock::duration elapsed) {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  const auto bucket = static_cast<size_t>(
      std::lower_bound(kBounds.begin(), kBounds.end(), seconds) -
      kBounds.begin());
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  const auto nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count();
  sum_nanos_.fetch_add(static_cast<uint64_t>(std::max<int64_t>(nanos, 0)),
                       std::memory_order_relaxed);
}

LatencyHistogram::Snapshot LatencyHistogram::snapshot() const {
  Snapshot snapshot;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    snapshot.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
  }
  snapshot.sum_seconds =
      static_cast<double>(sum_nanos_.load(std::memory_order_relaxed)) / 1e9;
  return snapshot;
}

void ServerMetrics::RecordPublish(
    int events, const absl::StatusOr<v1::PublishResponse>& answer,
    std::chrono::steady_clock::time_point received) {
  if (answer.ok()) {
    for (const v1::PublishResult& result : answer->results()) {
      (result.outcome() == v1::PublishResult::DUPLICATE ? events_duplicate
                                                        : events_accepted)
          .Increment();
    }
  } else {
    events_rejected[static_cast<size_t>(answer.status().code()) % kStatusCodes]
        .Increment(static_cast<uint64_t>(std::max(events, 0)));
  }
  publish_seconds.Observe(std::chrono::steady_clock::now() - received);
}

ServerMetrics& GlobalMetrics() {
  // Trivially destructible: safe to use until the process ends.
  static ServerMetrics metrics;
  return metrics;
}

std::string RenderMetrics(const ServerMetrics& metrics,
                          const ScrapedGauges& gauges) {
  std::string out;
  Family(&out, "dipwire_events_accepted_total", "counter",
         "Events stored (outcome ACCEPTED).");
  Sample(&out, "dipwire_events_accepted_total", "",
         metrics.events_accepted.value());
  Family(&out, "dipwire_events_duplicate_total", "counter",
         "Events answered DUPLICATE (a retry of a stored event).");
  Sample(&out, "dipwire_events_duplicate_total", "",
         metrics.events_duplicate.value());
  Family(&out, "dipwire_events_rejected_total", "counter",
         "Events of publish requests that failed, by the request's gRPC "
         "status code; nothing of such a request is stored.");
  for (size_t code = 1; code < ServerMetrics::kStatusCodes; ++code) {
    const auto status = static_cast<absl::StatusCode>(code);
    const uint64_t value = metrics.events_rejected[code].value();
    if (value == 0 && std::find(kRejectReasons.begin(), kRejectReasons.end(),
                                status) == kRejectReasons.end()) {
      continue;
    }
    Sample(&out, "dipwire_events_rejected_total",
           absl::StrCat("reason=\"", CodeName(status), "\""), value);
  }
  Family(&out, "dipwire_alerts_total", "counter",
         "Alerts derived and committed, by type.");
  for (size_t type = 1; type < ServerMetrics::kAlertTypes; ++type) {
    if (!v1::Alert::Type_IsValid(static_cast<int>(type))) continue;
    Sample(&out, "dipwire_alerts_total",
           absl::StrCat("type=\"",
                        v1::Alert::Type_Name(static_cast<v1::Alert::Type>(
                            static_cast<int>(type))),
                        "\""),
           metrics.alerts[type].value());
  }
  Family(&out, "dipwire_subscriber_alerts_delivered_total", "counter",
         "Alerts written to Subscribe streams, counted once per stream.");
  Sample(&out, "dipwire_subscriber_alerts_delivered_total", "",
         metrics.alerts_delivered.value());
  Family(&out, "dipwire_subscribe_streams", "gauge",
         "Subscribe streams open now.");
  Sample(&out, "dipwire_subscribe_streams", "", gauges.open_streams);
  Family(&out, "dipwire_subscriber_max_lag_alerts", "gauge",
         "The largest distance, in alerts of the log, from a Subscribe "
         "stream's cursor to the newest alert.");
  Sample(&out, "dipwire_subscriber_max_lag_alerts", "",
         gauges.max_subscriber_lag);
  Histogram(&out, "dipwire_publish_duration_seconds",
            "From a publish request's arrival to its answer (validation, "
            "queue, commit).",
            metrics.publish_seconds);
  Histogram(&out, "dipwire_commit_duration_seconds",
            "One group commit of the store: the transaction and its fsync.",
            metrics.commit_seconds);
  Family(&out, "dipwire_store_size_bytes", "gauge",
         "Size of the store's files (database and write-ahead log).");
  Sample(&out, "dipwire_store_size_bytes", "", gauges.store_bytes);
  Family(&out, "dipwire_sink_deliveries_total", "counter",
         "Webhook requests answered 2xx, all sinks.");
  Sample(&out, "dipwire_sink_deliveries_total", "",
         metrics.sink_deliveries.value());
  Family(&out, "dipwire_sink_failures_total", "counter",
         "Webhook attempts that failed (transport error, timeout, non-2xx), "
         "all sinks; each is retried until it becomes a dead letter.");
  Sample(&out, "dipwire_sink_failures_total", "",
         metrics.sink_failures.value());
  Family(&out, "dipwire_sink_lag_alerts", "gauge",
         "Alerts of the log after a sink's cursor.");
  for (const ScrapedGauges::Sink& sink : gauges.sinks) {
    Sample(&out, "dipwire_sink_lag_alerts",
           absl::StrCat("sink=\"", LabelValue(sink.name), "\""), sink.lag);
  }
  Family(&out, "dipwire_sink_dead_letters", "gauge",
         "Alerts a sink gave up on, kept for redelivery.");
  for (const ScrapedGauges::Sink& sink : gauges.sinks) {
    Sample(&out, "dipwire_sink_dead_letters",
           absl::StrCat("sink=\"", LabelValue(sink.name), "\""),
           sink.dead_letters);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& listen, std::function<std::string()> render) {
  DIPWIRE_ASSIGN_OR_RETURN(const ListenAddress address,
                           ParseListenAddress(listen, "--metrics-listen"));
  std::string error;
  const int fd = Listen(address.bare_host, absl::StrCat(address.port), &error);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat(
        "--metrics-listen: cannot listen on ", listen, ": ", error));
  }
  std::array<int, 2> wake{};
  if (pipe2(wake.data(), O_CLOEXEC) != 0) {
    close(fd);
    return absl::InternalError("pipe2 failed");
  }
  auto server = std::unique_ptr<MetricsHttpServer>(new MetricsHttpServer(
      fd, wake[0], wake[1], absl::StrCat(address.host, ":", BoundPort(fd)),
      std::move(render)));
  server->thread_ = std::thread([raw = server.get()] { raw->Loop(); });
  return server;
}

MetricsHttpServer::MetricsHttpServer(int listen_fd, int wake_read_fd,
                                     int wake_write_fd, std::string address,
                                     std::function<std::string()> render)
    : listen_fd_(listen_fd),
      wake_read_fd_(wake_read_fd),
      wake_write_fd_(wake_write_fd),
      address_(std::move(address)),
      render_(std::move(render)) {}

MetricsHttpServer::~MetricsHttpServer() {
  Stop();
  close(wake_read_fd_);
  close(wake_write_fd_);
}

void MetricsHttpServer::Stop() {
  if (stopped_.exchange(true)) return;
  const char byte = 0;
  // Wakes the loop's poll; the pipe cannot be full (one byte, once).
  if (write(wake_write_fd_, &byte, 1) != 1) {
    DIPWIRE_LOG(kError) << "metrics: cannot wake the HTTP thread";
  }
  if (thread_.joinable()) thread_.join();
  // From here on, connections are refused.
  close(listen_fd_);
}

void MetricsHttpServer::Loop() {
  while (true) {
    std::array<pollfd, 2> fds = {pollfd{listen_fd_, POLLIN, 0},
                                 pollfd{wake_read_fd_, POLLIN, 0}};
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      DIPWIRE_LOG(kError) << "metrics: poll failed: "
                          << std::strerror(errno);  // NOLINT
      return;
    }
    if (fds[1].revents != 0) return;  // Stop
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;  // e.g. the client gave up before accept
    // A client that stops reading cannot hold the answer's send forever.
    const timeval send_timeout{kConnectionTimeoutMs / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout,
               sizeof(send_timeout));
    Serve(fd);
    close(fd);
  }
}

void MetricsHttpServer::Serve(int fd) {
  // Reads the request head (up to the blank line), bounded in size and time.
  std::string head;
  const absl::Time deadline =
      absl::Now() + absl::Milliseconds(kConnectionTimeoutMs);
  while (true) {
    const size_t end = head.find("\r\n\r\n");
    if (std::min(end, head.size()) > kMaxRequestHead) {
      Respond(fd, "431 Request Header Fields Too Large",
              "request head over 8 KiB\n");
      return;
    }
    if (end != std::string::npos) break;
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    pollfd pfd{fd, POLLIN, 0};
    if (left <= 0 || poll(&pfd, 1, static_cast<int>(left)) <= 0) return;
    std::array<char, 2048> buf{};
    const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) return;
    head.append(buf.data(), static_cast<size_t>(n));
  }
  // "GET /metrics HTTP/1.1"
  const std::vector<absl::string_view> request_line = absl::StrSplit(
      absl::string_view(head).substr(0, head.find_first_of("\r\n")), ' ');
  if (request_line.size() != 3) {
    Respond(fd, "400 Bad Request", "malformed request line\n");
    return;
  }
  const absl::string_view target = request_line[1];
  if (target != "/metrics" && !absl::StartsWith(target, "/metrics?")) {
    Respond(fd, "404 Not Found", "dipwired serves only GET /metrics here\n");
    return;
  }
  if (request_line[0] != "GET") {
    WriteAll(fd,
             "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\n"
             "Content-Length: 0\r\nConnection: close\r\n\r\n");
    return;
  }
  Respond(fd, "200 OK", render_(), "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace dipwire::server

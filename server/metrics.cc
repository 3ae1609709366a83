#include "server/metrics.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
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

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxRequestHead = size_t{8} * 1024;
// Connections open at once; beyond it one is closed (Connections::Evict).
constexpr size_t kMaxConnections = 16;
// From the accept to the end of the request head.
constexpr auto kHeadTimeout = std::chrono::seconds(2);
// From the answer's first send to its last.
constexpr auto kWriteTimeout = std::chrono::seconds(5);
// After the answer: how long and how much is read and discarded.
constexpr auto kDrainTimeout = std::chrono::seconds(1);
constexpr size_t kMaxDrain = size_t{64} * 1024;
// A listen socket that reports an error, or an accept that fails for want of
// resources (EMFILE), is left alone this long: no busy loop.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
constexpr int kListenBacklog = 64;

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
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        listen(fd, kListenBacklog) != 0) {
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

std::string Response(
    absl::string_view status, absl::string_view body,
    absl::string_view content_type = "text/plain; charset=utf-8") {
  return absl::StrCat("HTTP/1.1 ", status, "\r\nContent-Type: ", content_type,
                      "\r\nContent-Length: ", body.size(),
                      "\r\nConnection: close\r\n\r\n", body);
}

// The answer to a complete request head.
std::string Answer(absl::string_view head,
                   const std::function<std::string()>& render) {
  // "GET /metrics HTTP/1.1"
  const std::vector<absl::string_view> request_line =
      absl::StrSplit(head.substr(0, head.find_first_of("\r\n")), ' ');
  if (request_line.size() != 3) {
    return Response("400 Bad Request", "malformed request line\n");
  }
  const absl::string_view target = request_line[1];
  if (target != "/metrics" && !absl::StartsWith(target, "/metrics?")) {
    return Response("404 Not Found",
                    "dipwired serves only GET /metrics here\n");
  }
  if (request_line[0] != "GET") {
    return "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\n"
           "Content-Length: 0\r\nConnection: close\r\n\r\n";
  }
  return Response("200 OK", render(),
                  "text/plain; version=0.0.4; charset=utf-8");
}

// One accepted connection: reading its request head, writing its answer,
// then draining what the client still sends until it closes.
struct Connection {
  enum class Phase { kReading, kWriting, kDraining };

  int fd = -1;  // -1 once closed
  Phase phase = Phase::kReading;
  Clock::time_point accepted;
  Clock::time_point deadline;  // of the current phase
  std::string in;              // the request head so far
  std::string out;             // the answer
  size_t sent = 0;             // bytes of `out` sent
  size_t drained = 0;          // bytes discarded after the answer

  void Close() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

// The connections of the loop. Each step does a bounded amount of work: it
// reads or writes until the socket would block, the phase ends, or a bound
// is reached.
class Connections {
 public:
  explicit Connections(const std::function<std::string()>* render)
      : render_(render) {}
  ~Connections() {
    for (Connection& c : open_) c.Close();
  }
  Connections(const Connections&) = delete;
  Connections& operator=(const Connections&) = delete;

  std::vector<Connection>& open() { return open_; }

  // Takes a freshly accepted non-blocking socket, closing another connection
  // (or this one) when kMaxConnections are open.
  void Add(int fd, Clock::time_point now) {
    if (open_.size() >= kMaxConnections && !Evict()) {
      close(fd);
      return;
    }
    Connection c;
    c.fd = fd;
    c.accepted = now;
    c.deadline = now + kHeadTimeout;
    open_.push_back(std::move(c));
  }

  // Handles poll's `revents` for `c`.
  void Step(Connection& c, int16_t revents, Clock::time_point now) {
    if ((revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) {
      // An error, a reset, or (draining) the client's close: done.
      c.Close();
      return;
    }
    if (revents == 0) return;
    switch (c.phase) {
      case Connection::Phase::kReading:
        Read(c, now);
        break;
      case Connection::Phase::kWriting:
        Write(c);
        break;
      case Connection::Phase::kDraining:
        Drain(c);
        break;
    }
  }

  // Closes the connections past their deadline and forgets closed ones;
  // returns the earliest deadline left (Clock::time_point::max() if none).
  Clock::time_point Sweep(Clock::time_point now) {
    Clock::time_point earliest = Clock::time_point::max();
    for (Connection& c : open_) {
      if (c.fd >= 0 && c.deadline <= now) c.Close();
      if (c.fd >= 0) earliest = std::min(earliest, c.deadline);
    }
    open_.erase(std::remove_if(open_.begin(), open_.end(),
                               [](const Connection& c) { return c.fd < 0; }),
                open_.end());
    return earliest;
  }

 private:
  // Closes the oldest connection that has its answer (closing it loses
  // nothing the client has not been sent), else the oldest still without a
  // request; false when every connection is writing an answer.
  bool Evict() {
    Connection* victim = nullptr;
    for (const Connection::Phase phase :
         {Connection::Phase::kDraining, Connection::Phase::kReading}) {
      for (Connection& c : open_) {
        if (c.fd >= 0 && c.phase == phase &&
            (victim == nullptr || c.accepted < victim->accepted)) {
          victim = &c;
        }
      }
      if (victim != nullptr) break;
    }
    if (victim == nullptr) return false;
    victim->Close();
    open_.erase(std::remove_if(open_.begin(), open_.end(),
                               [](const Connection& c) { return c.fd < 0; }),
                open_.end());
    return true;
  }

  void Read(Connection& c, Clock::time_point now) {
    // Bounded: each recv consumes data, and the head is capped.
    while (true) {
      const size_t end = c.in.find("\r\n\r\n");
      if (std::min(end, c.in.size()) > kMaxRequestHead) {
        StartAnswer(c,
                    Response("431 Request Header Fields Too Large",
                             "request head over 8 KiB\n"),
                    now);
        return;
      }
      if (end != std::string::npos) {
        StartAnswer(c, Answer(absl::string_view(c.in).substr(0, end), *render_),
                    now);
        return;
      }
      std::array<char, 4096> buf{};
      const ssize_t n = recv(c.fd, buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n <= 0) {  // the client closed or failed before its request
        c.Close();
        return;
      }
      c.in.append(buf.data(), static_cast<size_t>(n));
    }
  }

  static void StartAnswer(Connection& c, std::string answer,
                          Clock::time_point now) {
    c.in.clear();
    c.out = std::move(answer);
    c.phase = Connection::Phase::kWriting;
    // The render may have taken a while: the write's bound starts after it.
    c.deadline = std::max(now, Clock::now()) + kWriteTimeout;
    Write(c);
  }

  static void Write(Connection& c) {
    while (c.sent < c.out.size()) {
      const ssize_t n = send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent,
                             MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n <= 0) {  // the client went away; nothing to tell it
        c.Close();
        return;
      }
      c.sent += static_cast<size_t>(n);
    }
    // All sent: a FIN after the answer, and a brief drain so that unread
    // request bytes do not make close() reset the connection before the
    // client has read the answer.
    c.out = std::string();
    shutdown(c.fd, SHUT_WR);
    c.phase = Connection::Phase::kDraining;
    c.deadline = Clock::now() + kDrainTimeout;
    Drain(c);
  }

  static void Drain(Connection& c) {
    while (true) {
      std::array<char, 4096> buf{};
      const ssize_t n = recv(c.fd, buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n > 0) c.drained += static_cast<size_t>(n);
      if (n <= 0 || c.drained > kMaxDrain) {
        c.Close();
        return;
      }
    }
  }

  const std::function<std::string()>* const render_;
  std::vector<Connection> open_;
};

// Milliseconds for poll until `deadline`, rounded up so that poll does not
// return just before it (no busy loop); -1 for none.
int PollTimeout(Clock::time_point deadline, Clock::time_point now) {
  if (deadline == Clock::time_point::max()) return -1;
  if (deadline <= now) return 0;
  const auto ms =
      std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
  return static_cast<int>(std::min<int64_t>(ms, int64_t{60} * 1000));
}

int16_t PollEvents(const Connection& c) {
  return static_cast<int16_t>(c.phase == Connection::Phase::kWriting ? POLLOUT
                                                                     : POLLIN);
}

// Handles poll's `revents` for the listen socket: accepts up to
// kMaxConnections connections into `connections` (the loop stays bounded).
// False when the socket reports an error or accept lacks resources (EMFILE):
// the caller then leaves the socket alone for kAcceptPause, not spinning.
bool Accept(int listen_fd, int16_t revents, Clock::time_point now,
            Connections* connections) {
  if ((revents & POLLIN) == 0) {
    if ((revents & (POLLERR | POLLHUP | POLLNVAL)) == 0) return true;
    int error = 0;
    socklen_t len = sizeof(error);
    getsockopt(listen_fd, SOL_SOCKET, SO_ERROR, &error, &len);
    DIPWIRE_LOG(kWarning) << "metrics: listen socket error: "
                          << std::strerror(error);  // NOLINT
    return false;
  }
  for (size_t i = 0; i < kMaxConnections; ++i) {
    const int fd =
        accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
      connections->Add(fd, now);
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
        errno == ENOMEM) {
      DIPWIRE_LOG(kWarning)
          << "metrics: accept failed: " << std::strerror(errno);  // NOLINT
      return false;
    }
    // Otherwise (ECONNABORTED, EINTR, a network error passed on): that
    // connection is gone; try the next.
  }
  return true;
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
         "Alerts written to Subscribe streams, counted once per stream when "
         "the write completes.");
  Sample(&out, "dipwire_subscriber_alerts_delivered_total", "",
         metrics.alerts_delivered.value());
  Family(&out, "dipwire_subscribe_streams", "gauge",
         "Subscribe streams open now.");
  Sample(&out, "dipwire_subscribe_streams", "", gauges.open_streams);
  Family(&out, "dipwire_publish_streams", "gauge",
         "PublishStream streams open now.");
  Sample(&out, "dipwire_publish_streams", "", gauges.open_publish_streams);
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
  Family(&out, "dipwire_sink_alerts_skipped_total", "counter",
         "Alerts webhook sinks never delivered because retention deleted "
         "them before the sink reached them, all sinks.");
  Sample(&out, "dipwire_sink_alerts_skipped_total", "",
         metrics.sink_alerts_skipped.value());
  Family(&out, "dipwire_retention_events_trimmed_total", "counter",
         "Events whose payload retention removed (their id and content "
         "hash stay, for idempotency).");
  Sample(&out, "dipwire_retention_events_trimmed_total", "",
         metrics.events_trimmed.value());
  Family(&out, "dipwire_retention_alerts_trimmed_total", "counter",
         "Alerts retention deleted.");
  Sample(&out, "dipwire_retention_alerts_trimmed_total", "",
         metrics.alerts_trimmed.value());
  Family(&out, "dipwire_alert_log_oldest_position", "gauge",
         "Position in the alert log of the oldest alert retention kept.");
  Sample(&out, "dipwire_alert_log_oldest_position", "",
         gauges.oldest_alert_position);
  Histogram(&out, "dipwire_retention_pass_duration_seconds",
            "One background retention pass: snapshot and trimming.",
            metrics.retention_seconds);
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
  Connections connections(&render_);
  // While the listen socket misbehaves (see kAcceptPause), it is not polled.
  Clock::time_point accept_paused_until = Clock::time_point::min();
  std::vector<pollfd> fds;
  while (true) {
    Clock::time_point now = Clock::now();
    const Clock::time_point wake_at =
        std::min(connections.Sweep(now), accept_paused_until > now
                                             ? accept_paused_until
                                             : Clock::time_point::max());
    fds.clear();
    fds.push_back(pollfd{wake_read_fd_, POLLIN, 0});
    fds.push_back(
        pollfd{accept_paused_until <= now ? listen_fd_ : -1, POLLIN, 0});
    for (const Connection& c : connections.open()) {
      fds.push_back(pollfd{c.fd, PollEvents(c), 0});
    }
    if (poll(fds.data(), fds.size(), PollTimeout(wake_at, now)) < 0) {
      if (errno == EINTR) continue;
      DIPWIRE_LOG(kError) << "metrics: poll failed: "
                          << std::strerror(errno);  // NOLINT
      return;
    }
    if (fds[0].revents != 0) return;  // Stop
    now = Clock::now();
    // The connections first: a request that has arrived is answered before
    // new connections can push its connection out.
    for (size_t i = 2; i < fds.size(); ++i) {
      connections.Step(connections.open()[i - 2], fds[i].revents, now);
    }
    if (!Accept(listen_fd_, fds[1].revents, now, &connections)) {
      accept_paused_until = now + kAcceptPause;
    }
  }
}

}  // namespace dipwire::server

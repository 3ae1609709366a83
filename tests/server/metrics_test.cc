#include "server/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/http_get.h"
#include "tests/testing/status_matchers.h"

namespace dipwire::server {
namespace {

using ::dipwire::testing::HttpExchange;
using ::dipwire::testing::IsOk;
using ::dipwire::testing::PortOf;
using ::dipwire::testing::StatusIs;
using ::testing::AllOf;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;

// A client socket connected to 127.0.0.1:`port`, closed by the destructor.
class Client {
 public:
  explicit Client(int port)
      : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ =
        fd_ >= 0 && connect(fd_, reinterpret_cast<const sockaddr*>(&addr),
                            sizeof(addr)) == 0;
  }
  ~Client() {
    if (fd_ >= 0) close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }

  bool Send(const std::string& data) const {
    return send(fd_, data.data(), data.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(data.size());
  }

  // Everything received until the server closes the connection, or nullopt
  // when it has not closed it within 30 s (a failure bound, not a timing).
  std::optional<std::string> ReadUntilClosed() {
    std::string answer;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      pollfd pfd{fd_, POLLIN, 0};
      if (left <= 0 || poll(&pfd, 1, static_cast<int>(left)) <= 0) {
        return std::nullopt;
      }
      std::array<char, 4096> buf{};
      const ssize_t n = recv(fd_, buf.data(), buf.size(), 0);
      if (n < 0) return std::nullopt;  // e.g. a reset
      if (n == 0) return answer;
      answer.append(buf.data(), static_cast<size_t>(n));
    }
  }

 private:
  const int fd_;
  bool connected_ = false;
};

TEST(MetricsTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  ServerMetrics metrics;
  metrics.commit_seconds.Observe(std::chrono::microseconds(50));
  metrics.commit_seconds.Observe(std::chrono::milliseconds(3));
  metrics.commit_seconds.Observe(std::chrono::seconds(20));
  const std::string text = RenderMetrics(metrics, {});
  EXPECT_THAT(
      text,
      AllOf(HasSubstr("# TYPE dipwire_commit_duration_seconds histogram\n"),
            HasSubstr("dipwire_commit_duration_seconds_bucket{le=\"0.0001\"} "
                      "1\n"),
            HasSubstr("dipwire_commit_duration_seconds_bucket{le=\"0.0025\"} "
                      "1\n"),
            HasSubstr("dipwire_commit_duration_seconds_bucket{le=\"0.005\"} "
                      "2\n"),
            HasSubstr("dipwire_commit_duration_seconds_bucket{le=\"10\"} 2\n"),
            HasSubstr("dipwire_commit_duration_seconds_bucket{le=\"+Inf\"} "
                      "3\n"),
            HasSubstr("dipwire_commit_duration_seconds_sum 20.00305\n"),
            HasSubstr("dipwire_commit_duration_seconds_count 3\n")));
}

TEST(MetricsTest, RejectionsAreCountedByCodeAndUnusualCodesOnlyOnceSeen) {
  ServerMetrics metrics;
  const auto now = std::chrono::steady_clock::now();
  metrics.RecordPublish(3, absl::InvalidArgumentError("bad"), now);
  std::string text = RenderMetrics(metrics, {});
  EXPECT_THAT(text, HasSubstr("dipwire_events_rejected_total{reason="
                              "\"INVALID_ARGUMENT\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("dipwire_events_rejected_total{reason="
                              "\"UNAVAILABLE\"} 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("reason=\"INTERNAL\"")));
  metrics.RecordPublish(1, absl::InternalError("oops"), now);
  text = RenderMetrics(metrics, {});
  EXPECT_THAT(text, HasSubstr("dipwire_events_rejected_total{reason="
                              "\"INTERNAL\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("dipwire_publish_duration_seconds_count 2\n"));
}

TEST(MetricsTest, RetentionIsCountedAndTheOldestKeptAlertShown) {
  ServerMetrics metrics;
  metrics.events_trimmed.Increment(99000);
  metrics.alerts_trimmed.Increment(12);
  metrics.sink_alerts_skipped.Increment(3);
  metrics.retention_seconds.Observe(std::chrono::milliseconds(40));
  ScrapedGauges gauges;
  gauges.oldest_alert_position = 13;
  const std::string text = RenderMetrics(metrics, gauges);
  EXPECT_THAT(
      text,
      AllOf(HasSubstr("# TYPE dipwire_retention_events_trimmed_total counter\n"
                      "dipwire_retention_events_trimmed_total 99000\n"),
            HasSubstr("dipwire_retention_alerts_trimmed_total 12\n"),
            HasSubstr("dipwire_sink_alerts_skipped_total 3\n"),
            HasSubstr("# TYPE dipwire_alert_log_oldest_position gauge\n"
                      "dipwire_alert_log_oldest_position 13\n"),
            HasSubstr("dipwire_retention_pass_duration_seconds_count 1\n")));
}

TEST(MetricsTest, SinkNamesAreEscapedLabelValues) {
  ScrapedGauges gauges;
  gauges.sinks.push_back({R"(desk "a"\b)", 7, 2});
  const std::string text = RenderMetrics(ServerMetrics(), gauges);
  EXPECT_THAT(text,
              HasSubstr(R"(dipwire_sink_lag_alerts{sink="desk \"a\"\\b"} 7)"));
  EXPECT_THAT(
      text, HasSubstr(R"(dipwire_sink_dead_letters{sink="desk \"a\"\\b"} 2)"));
}

TEST(MetricsTest, HttpServerServesTheRenderedTextUntilStopped) {
  auto server = MetricsHttpServer::Start("127.0.0.1:0",
                                         [] { return std::string("x 1\n"); });
  ASSERT_THAT(server, IsOk());
  const int port = PortOf((*server)->address());
  auto answer =
      HttpExchange(port, "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n");
  ASSERT_THAT(answer, IsOk());
  EXPECT_THAT(*answer, AllOf(HasSubstr("HTTP/1.1 200 OK\r\n"),
                             HasSubstr("Content-Length: 4\r\n"),
                             EndsWith("\r\n\r\nx 1\n")));
  (*server)->Stop();
  EXPECT_THAT(HttpExchange(port, "GET /metrics HTTP/1.1\r\n\r\n"), Not(IsOk()));
}

TEST(MetricsTest, HttpServerRefusesABadOrBusyAddress) {
  EXPECT_THAT(MetricsHttpServer::Start("localhost", [] { return ""; }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--metrics-listen")));
  auto first = MetricsHttpServer::Start("127.0.0.1:0", [] { return ""; });
  ASSERT_THAT(first, IsOk());
  EXPECT_THAT(
      MetricsHttpServer::Start((*first)->address(), [] { return ""; }),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("cannot listen on")));
}

TEST(MetricsTest, IdleConnectionsDoNotDelayAScrape) {
  auto server = MetricsHttpServer::Start("127.0.0.1:0",
                                         [] { return std::string("x 1\n"); });
  ASSERT_THAT(server, IsOk());
  const int port = PortOf((*server)->address());
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 10; ++i) {
    idle.push_back(std::make_unique<Client>(port));
    ASSERT_TRUE(idle.back()->connected());
  }
  // The idle connections are still open (they send nothing): the scrape is
  // answered all the same (HttpExchange gives up after 20 s).
  auto answer =
      HttpExchange(port, "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n");
  ASSERT_THAT(answer, IsOk());
  EXPECT_THAT(*answer, AllOf(HasSubstr("HTTP/1.1 200 OK\r\n"),
                             EndsWith("\r\n\r\nx 1\n")));
}

TEST(MetricsTest, MoreIdleConnectionsThanTheCapDoNotLockOutAScrape) {
  auto server = MetricsHttpServer::Start("127.0.0.1:0",
                                         [] { return std::string("x 1\n"); });
  ASSERT_THAT(server, IsOk());
  const int port = PortOf((*server)->address());
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 40; ++i) {
    idle.push_back(std::make_unique<Client>(port));
    ASSERT_TRUE(idle.back()->connected());
  }
  auto answer = HttpExchange(port, "GET /metrics HTTP/1.1\r\n\r\n");
  ASSERT_THAT(answer, IsOk());
  EXPECT_THAT(*answer, HasSubstr("HTTP/1.1 200 OK\r\n"));
}

TEST(MetricsTest, AStalledHalfRequestDoesNotBlockAnotherClient) {
  auto server = MetricsHttpServer::Start("127.0.0.1:0",
                                         [] { return std::string("x 1\n"); });
  ASSERT_THAT(server, IsOk());
  const int port = PortOf((*server)->address());
  Client stalled(port);
  ASSERT_TRUE(stalled.connected());
  ASSERT_TRUE(stalled.Send("GET /metr"));
  auto answer = HttpExchange(port, "GET /metrics HTTP/1.1\r\n\r\n");
  ASSERT_THAT(answer, IsOk());
  EXPECT_THAT(*answer, HasSubstr("HTTP/1.1 200 OK\r\n"));
  // The stalled client is dropped in the end, without an answer.
  EXPECT_EQ(stalled.ReadUntilClosed(), std::optional<std::string>(""));
}

TEST(MetricsTest, AnAnswerIsNotLostToRequestBytesLeftUnread) {
  auto server = MetricsHttpServer::Start("127.0.0.1:0",
                                         [] { return std::string("x 1\n"); });
  ASSERT_THAT(server, IsOk());
  Client client(PortOf((*server)->address()));
  ASSERT_TRUE(client.connected());
  // A request with a body the server does not read.
  ASSERT_TRUE(client.Send(
      absl::StrCat("GET /metrics HTTP/1.1\r\nContent-Length: 16384\r\n\r\n",
                   std::string(16384, 'b'))));
  const std::optional<std::string> answer = client.ReadUntilClosed();
  ASSERT_TRUE(answer.has_value());
  EXPECT_THAT(*answer, AllOf(HasSubstr("HTTP/1.1 200 OK\r\n"),
                             EndsWith("\r\n\r\nx 1\n")));
}

TEST(MetricsTest, AnOversizedHeadIsRefusedAndOtherPathsAndMethodsToo) {
  auto server = MetricsHttpServer::Start("127.0.0.1:0",
                                         [] { return std::string("x 1\n"); });
  ASSERT_THAT(server, IsOk());
  const int port = PortOf((*server)->address());
  Client client(port);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send(
      absl::StrCat("GET /metrics HTTP/1.1\r\nX: ", std::string(10000, 'h'))));
  const std::optional<std::string> answer = client.ReadUntilClosed();
  ASSERT_TRUE(answer.has_value());
  EXPECT_THAT(*answer,
              HasSubstr("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  auto not_found = HttpExchange(port, "GET /other HTTP/1.1\r\n\r\n");
  ASSERT_THAT(not_found, IsOk());
  EXPECT_THAT(*not_found, HasSubstr("HTTP/1.1 404 Not Found\r\n"));
  auto not_allowed = HttpExchange(port, "POST /metrics HTTP/1.1\r\n\r\n");
  ASSERT_THAT(not_allowed, IsOk());
  EXPECT_THAT(*not_allowed, HasSubstr("HTTP/1.1 405 Method Not Allowed\r\n"));
}

}  // namespace
}  // namespace dipwire::server

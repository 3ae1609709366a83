#include "server/metrics.h"

#include <chrono>
#include <memory>
#include <string>

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

}  // namespace
}  // namespace dipwire::server

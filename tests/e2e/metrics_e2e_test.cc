// Prometheus metrics of the real dipwired (--metrics-listen): known publishes
// and a subscriber, then a scrape of GET /metrics over HTTP on 127.0.0.1,
// parsed by Prometheus's own text parser (python3-prometheus-client).

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/e2e_fixture.h"
#include "tests/testing/http_get.h"
#include "tests/testing/status_matchers.h"

namespace dipwire {
namespace {

using ::dipwire::testing::DipwiredTest;
using ::dipwire::testing::HttpExchange;
using ::dipwire::testing::IsOk;
using ::dipwire::testing::NewTempDir;
using ::dipwire::testing::NumberedPeaceEvent;
using ::dipwire::testing::PortOf;
using ::dipwire::testing::ReadAlerts;
using ::dipwire::testing::StatusIs;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::SizeIs;
using ::testing::StartsWith;

// Parses Prometheus text with prometheus_client's parser and prints one
// "name{label=value,...} value" line per sample, labels sorted.
constexpr absl::string_view kParser = R"(
import sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
        print("%s{%s} %r" % (s.name, labels, s.value))
)";

class MetricsTest : public DipwiredTest {
 protected:
  void SetUp() override {
    data_dir_ = NewTempDir("metrics");
    StartServer({"--metrics-listen", "127.0.0.1:0"});
    absl::string_view output = server_->startup_output();
    ASSERT_TRUE(absl::ConsumePrefix(&output, "metrics on "))
        << server_->startup_output();
    metrics_port_ = PortOf(std::string(output.substr(0, output.find('\n'))));
    ASSERT_GT(metrics_port_, 0) << server_->startup_output();
  }

  // GET /metrics, parsed: sample ("name{labels}") -> value. Fails the test
  // when the answer is not 200 or does not parse.
  std::map<std::string, double> Scrape() const {
    auto answer = HttpExchange(metrics_port_,
                               "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n");
    EXPECT_THAT(answer, IsOk());
    if (!answer.ok()) return {};
    EXPECT_THAT(*answer, StartsWith("HTTP/1.1 200 OK\r\n"));
    EXPECT_THAT(*answer, HasSubstr("Content-Type: text/plain; version=0.0.4"));
    const size_t body = answer->find("\r\n\r\n");
    const std::string dir = NewTempDir("scrape");
    std::ofstream(dir + "/metrics.txt") << answer->substr(body + 4);
    std::ofstream(dir + "/parse.py") << kParser;
    const std::string command =
        absl::StrCat("/usr/bin/python3 ", dir, "/parse.py <", dir,
                     "/metrics.txt >", dir, "/samples.txt 2>", dir, "/err");
    // NOLINTNEXTLINE(concurrency-mt-unsafe): glibc's system() is MT-safe.
    const int status = std::system(command.c_str());
    std::stringstream samples;
    samples << std::ifstream(dir + "/samples.txt").rdbuf();
    std::stringstream err;
    err << std::ifstream(dir + "/err").rdbuf();
    EXPECT_EQ(status, 0) << "the exposition does not parse: " << err.str();
    std::map<std::string, double> values;
    for (absl::string_view line :
         absl::StrSplit(samples.str(), '\n', absl::SkipEmpty())) {
      const size_t space = line.rfind(' ');
      double value = 0;
      EXPECT_TRUE(absl::SimpleAtod(line.substr(space + 1), &value)) << line;
      values[std::string(line.substr(0, space))] = value;
    }
    return values;
  }

  int metrics_port_ = 0;
};

TEST_F(MetricsTest, CountsPublishOutcomesAlertsAndLatency) {
  v1::PublishRequest accepted;
  *accepted.add_events() = NumberedPeaceEvent(1);
  *accepted.add_events() = NumberedPeaceEvent(2);
  ASSERT_THAT(client_->Publish(accepted), IsOk());
  v1::PublishRequest duplicate;
  *duplicate.add_events() = NumberedPeaceEvent(1);
  ASSERT_THAT(client_->Publish(duplicate), IsOk());
  // Two events, one of them invalid: the batch fails whole.
  v1::PublishRequest invalid;
  *invalid.add_events() = NumberedPeaceEvent(3);
  *invalid.add_events() = NumberedPeaceEvent(4);
  invalid.mutable_events(1)->mutable_peace_talk()->add_parties("XX");
  ASSERT_THAT(client_->Publish(invalid),
              StatusIs(absl::StatusCode::kInvalidArgument));
  v1::PublishRequest conflict;
  *conflict.add_events() = NumberedPeaceEvent(2);
  conflict.mutable_events(0)->set_summary("other content");
  ASSERT_THAT(client_->Publish(conflict),
              StatusIs(absl::StatusCode::kAlreadyExists));

  const std::map<std::string, double> values = Scrape();
  EXPECT_THAT(values, Contains(Pair("dipwire_events_accepted_total{}", 2)));
  EXPECT_THAT(values, Contains(Pair("dipwire_events_duplicate_total{}", 1)));
  EXPECT_THAT(
      values,
      Contains(
          Pair("dipwire_events_rejected_total{reason=INVALID_ARGUMENT}", 2)));
  EXPECT_THAT(values,
              Contains(Pair(
                  "dipwire_events_rejected_total{reason=ALREADY_EXISTS}", 1)));
  EXPECT_THAT(values,
              Contains(Pair(
                  "dipwire_alerts_total{type=PEACE_TALK_STATUS_CHANGED}", 2)));
  EXPECT_THAT(values,
              Contains(Pair("dipwire_alerts_total{type=TRADE_RECORD}", 0)));
  // Four requests answered; one group committed (the duplicate and the
  // failed requests wrote nothing).
  EXPECT_THAT(values,
              Contains(Pair("dipwire_publish_duration_seconds_count{}", 4)));
  EXPECT_THAT(
      values,
      Contains(Pair("dipwire_publish_duration_seconds_bucket{le=+Inf}", 4)));
  EXPECT_THAT(values,
              Contains(Pair("dipwire_commit_duration_seconds_count{}", 1)));
  EXPECT_GT(values.at("dipwire_store_size_bytes{}"), 0);
}

TEST_F(MetricsTest, CountsStreamsAndDeliveries) {
  v1::PublishRequest request;
  for (int n = 1; n <= 3; ++n) *request.add_events() = NumberedPeaceEvent(n);
  ASSERT_THAT(client_->Publish(request), IsOk());
  EXPECT_THAT(Scrape(), Contains(Pair("dipwire_subscribe_streams{}", 0)));

  v1::SubscribeRequest subscribe;
  subscribe.set_position(v1::SubscribeRequest::EARLIEST);
  std::unique_ptr<client::AlertStream> stream = Subscribe(subscribe);
  ASSERT_NE(stream, nullptr);
  ASSERT_THAT(ReadAlerts(*stream, 3), SizeIs(3));
  // Deliveries count when the server's write completes, which may come a
  // moment after the client has the alerts: scrape until it shows (at most
  // 5 s).
  std::map<std::string, double> values = Scrape();
  for (int i = 0;
       i < 100 && values["dipwire_subscriber_alerts_delivered_total{}"] < 3;
       ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    values = Scrape();
  }
  EXPECT_THAT(values, Contains(Pair("dipwire_subscribe_streams{}", 1)));
  EXPECT_THAT(values,
              Contains(Pair("dipwire_subscriber_alerts_delivered_total{}", 3)));
  stream->Cancel();

  EXPECT_THAT(Scrape(), Contains(Pair("dipwire_publish_streams{}", 0)));
  auto session = client_->PublishStream();
  ASSERT_THAT(session, IsOk());
  ASSERT_THAT((*session)->Send(request), IsOk());
  v1::PublishResponse answer;
  ASSERT_THAT((*session)->Receive(&answer), IsOk());  // the server has it
  EXPECT_THAT(Scrape(), Contains(Pair("dipwire_publish_streams{}", 1)));
  EXPECT_THAT((*session)->Finish(), IsOk());
}

TEST_F(MetricsTest, OtherPathsAndMethodsAreRefused) {
  auto answer =
      HttpExchange(metrics_port_, "GET / HTTP/1.1\r\nHost: test\r\n\r\n");
  ASSERT_THAT(answer, IsOk());
  EXPECT_THAT(*answer, StartsWith("HTTP/1.1 404 "));
  answer = HttpExchange(metrics_port_,
                        "POST /metrics HTTP/1.1\r\nHost: test\r\n\r\n");
  ASSERT_THAT(answer, IsOk());
  EXPECT_THAT(*answer, StartsWith("HTTP/1.1 405 "));
  answer = HttpExchange(metrics_port_,
                        absl::StrCat("GET /metrics HTTP/1.1\r\nX-Pad: ",
                                     std::string(10000, 'a'), "\r\n\r\n"));
  ASSERT_THAT(answer, IsOk());
  EXPECT_THAT(*answer, StartsWith("HTTP/1.1 431 "));
}

}  // namespace
}  // namespace dipwire

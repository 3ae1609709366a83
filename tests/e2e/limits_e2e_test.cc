// End-to-end tests of dipwired's limits (README.md, "Limits"): the real
// binary started with small limits through its flags, driven over gRPC
// through the real client library. Each limit is met at its boundary and
// past it, where the error names the limit's flag and value.

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/testing/dipwired_process.h"
#include "tests/testing/e2e_fixture.h"
#include "tests/testing/status_matchers.h"

namespace dipwire {
namespace {

using ::dipwire::testing::DipwiredRun;
using ::dipwire::testing::DipwiredTest;
using ::dipwire::testing::IsOk;
using ::dipwire::testing::kStreamWait;
using ::dipwire::testing::NewTempDir;
using ::dipwire::testing::RunDipwired;
using ::dipwire::testing::StatusIs;
using ::google::protobuf::util::TimeUtil;
using ::testing::AllOf;
using ::testing::HasSubstr;

v1::DiplomaticEvent TradeEvent(const std::string& id, int year) {
  v1::DiplomaticEvent event;
  event.set_event_id(id);
  event.mutable_occurred_at()->set_seconds(1'704'067'200);
  event.mutable_reported_at()->set_seconds(1'704'067'200);
  event.mutable_source()->set_outlet("Reuters");
  v1::TradeFigure* trade = event.mutable_trade();
  trade->set_country_a("CHN");
  trade->set_country_b("RUS");
  trade->set_year(year);
  trade->set_value_usd(int64_t{1'000'000'000} + year);
  trade->set_flow(v1::TradeFigure::TOTAL);
  trade->set_reporter("customs");
  return event;
}

// A batch of `count` trade events with ids "<prefix>-0", ...
v1::PublishRequest TradeBatch(const std::string& prefix, int count) {
  v1::PublishRequest request;
  for (int i = 0; i < count; ++i) {
    *request.add_events() = TradeEvent(absl::StrCat(prefix, "-", i), 1950 + i);
  }
  return request;
}

// A Subscribe request from the head with the shortest heartbeat (1 s), so
// that a stream the server admitted says so within a second.
v1::SubscribeRequest HeartbeatingSubscription() {
  v1::SubscribeRequest request;
  request.set_position(v1::SubscribeRequest::LATEST);
  *request.mutable_heartbeat_interval() = TimeUtil::SecondsToDuration(1);
  return request;
}

// Runs dipwired on loopback with `args` to its end.
DipwiredRun RunDipwiredOnLoopback(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"--listen", "127.0.0.1:0", "--data-dir",
                                  NewTempDir("limits-flags") + "/data"};
  all.insert(all.end(), args.begin(), args.end());
  return RunDipwired(all);
}

// Each test starts dipwired (StartServer) with the limits it tests.
class LimitsEndToEndTest : public DipwiredTest {
 protected:
  void SetUp() override { data_dir_ = NewTempDir("limits"); }
};

TEST_F(LimitsEndToEndTest, MaxStreamsRefusesTheNextStreamUntilOneEnds) {
  StartServer({"--max-streams", "2"});
  std::vector<std::unique_ptr<client::AlertStream>> streams;
  v1::SubscribeResponse response;
  for (int i = 0; i < 2; ++i) {
    streams.push_back(Subscribe(HeartbeatingSubscription()));
    ASSERT_NE(streams.back(), nullptr);
    // Its first heartbeat: the server has admitted it.
    ASSERT_THAT(streams.back()->Next(&response, kStreamWait), IsOk());
    EXPECT_TRUE(response.has_heartbeat());
  }

  std::unique_ptr<client::AlertStream> third =
      Subscribe(HeartbeatingSubscription());
  ASSERT_NE(third, nullptr);
  EXPECT_THAT(third->Next(&response, kStreamWait),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "too many concurrent streams: this server serves at "
                       "most 2 Subscribe streams at once (--max-streams=2); "
                       "retry later"));

  // Once a stream ends, a new one is admitted. The server learns of the
  // cancel asynchronously, so a retry may come just before it has.
  streams.front()->Cancel();
  const absl::Time deadline = absl::Now() + kStreamWait;
  absl::StatusOr<bool> next = false;
  do {
    std::unique_ptr<client::AlertStream> retry =
        Subscribe(HeartbeatingSubscription());
    ASSERT_NE(retry, nullptr);
    next = retry->Next(&response, kStreamWait);
    if (next.ok()) {
      EXPECT_TRUE(response.has_heartbeat());
      break;
    }
    ASSERT_THAT(next, StatusIs(absl::StatusCode::kResourceExhausted));
    absl::SleepFor(absl::Milliseconds(50));
  } while (absl::Now() < deadline);
  EXPECT_THAT(next, IsOk());
}

TEST_F(LimitsEndToEndTest, MaxPublishStreamsRefusesTheNextStreamUntilOneEnds) {
  StartServer({"--max-publish-streams", "1"});
  v1::PublishResponse response;
  auto first = client_->PublishStream();
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT((*first)->Send(TradeBatch("first", 1)), IsOk());
  // Answered: the server has admitted it.
  absl::StatusOr<bool> answered = (*first)->Receive(&response);
  ASSERT_THAT(answered, IsOk());
  ASSERT_TRUE(*answered);
  EXPECT_FALSE(response.has_error());

  auto second = client_->PublishStream();
  ASSERT_THAT(second, IsOk());
  // The server ends the call at once; the send may or may not get out.
  (void)(*second)->Send(TradeBatch("second", 1));
  answered = (*second)->Receive(&response);
  ASSERT_THAT(answered, IsOk());
  EXPECT_FALSE(*answered);
  EXPECT_THAT((*second)->Finish(),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "too many concurrent publish streams: this server "
                       "serves at most 1 PublishStream streams at once "
                       "(--max-publish-streams=1); retry later, or publish "
                       "over the streams already open"));
  // Unary Publish holds no stream: still served.
  EXPECT_THAT(client_->Publish(TradeBatch("unary", 1)), IsOk());

  // Once the first ends, a new stream is admitted. The server learns of the
  // end asynchronously, so a retry may come just before it has.
  ASSERT_THAT((*first)->Finish(), IsOk());
  const absl::Time deadline = absl::Now() + kStreamWait;
  bool admitted = false;
  for (int attempt = 0; !admitted && absl::Now() < deadline; ++attempt) {
    auto retry = client_->PublishStream();
    ASSERT_THAT(retry, IsOk());
    (void)(*retry)->Send(TradeBatch(absl::StrCat("retry-", attempt), 1));
    absl::StatusOr<bool> got = (*retry)->Receive(&response);
    ASSERT_THAT(got, IsOk());
    admitted = *got;
    if (admitted) {
      EXPECT_FALSE(response.has_error());
      EXPECT_THAT((*retry)->Finish(), IsOk());
    } else {
      EXPECT_THAT((*retry)->Finish(),
                  StatusIs(absl::StatusCode::kResourceExhausted));
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  EXPECT_TRUE(admitted);
}

TEST_F(LimitsEndToEndTest, StreamOfAKilledClientProcessFreesItsPlace) {
  StartServer({"--max-streams", "1"});
  ASSERT_THAT(client_->Publish(TradeBatch("t", 1)), IsOk());
  // The only stream allowed belongs to a `dipwire subscribe` process, which
  // prints the alert on its stdout once the server has admitted it. (The
  // child only makes async-signal-safe calls before exec.)
  const std::string address = server_->address();
  std::array<int, 2> out{};
  ASSERT_EQ(pipe(out.data()), 0);
  const pid_t subscriber = fork();
  ASSERT_GE(subscriber, 0);
  if (subscriber == 0) {
    dup2(out[1], STDOUT_FILENO);
    execl(DIPWIRE_CLI_PATH, "dipwire", "subscribe", "--server", address.c_str(),
          "--from", "earliest", "--no-reconnect", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  pollfd ready{out[0], POLLIN, 0};
  ASSERT_EQ(poll(&ready, 1, absl::ToInt64Milliseconds(kStreamWait)), 1);
  char byte = 0;
  ASSERT_EQ(read(out[0], &byte, 1), 1);
  close(out[0]);
  v1::SubscribeResponse response;
  std::unique_ptr<client::AlertStream> refused =
      Subscribe(HeartbeatingSubscription());
  ASSERT_NE(refused, nullptr);
  absl::StatusOr<bool> next = refused->Next(&response, kStreamWait);
  ASSERT_THAT(next, StatusIs(absl::StatusCode::kResourceExhausted));

  // kill -9: the process says nothing more; the server must notice the
  // connection is gone and release the stream.
  ASSERT_EQ(kill(subscriber, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(subscriber, &status, 0), subscriber);
  const absl::Time released_by = absl::Now() + kStreamWait;
  do {
    std::unique_ptr<client::AlertStream> retry =
        Subscribe(HeartbeatingSubscription());
    ASSERT_NE(retry, nullptr);
    next = retry->Next(&response, kStreamWait);
    if (next.ok()) break;
    ASSERT_THAT(next, StatusIs(absl::StatusCode::kResourceExhausted));
    absl::SleepFor(absl::Milliseconds(50));
  } while (absl::Now() < released_by);
  ASSERT_THAT(next, IsOk());
  EXPECT_TRUE(response.has_heartbeat());
}

TEST_F(LimitsEndToEndTest, MaxBatchEventsAppliesToPublishAndEachStreamRequest) {
  StartServer({"--max-batch-events", "3"});
  auto accepted = client_->Publish(TradeBatch("ok", 3));
  ASSERT_THAT(accepted, IsOk());
  EXPECT_EQ(accepted->results_size(), 3);
  EXPECT_THAT(client_->Publish(TradeBatch("big", 4)),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "events: 4 events in one request; at most 3 are "
                       "allowed (--max-batch-events=3); split the batch"));

  // On PublishStream the request is answered with the error and the stream
  // goes on.
  auto session = client_->PublishStream();
  ASSERT_THAT(session, IsOk());
  ASSERT_THAT((*session)->Send(TradeBatch("stream-big", 4)), IsOk());
  ASSERT_THAT((*session)->Send(TradeBatch("stream-ok", 3)), IsOk());
  v1::PublishResponse response;
  ASSERT_THAT((*session)->Receive(&response), IsOk());
  EXPECT_EQ(response.error().code(),
            static_cast<int>(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(response.error().message(), HasSubstr("(--max-batch-events=3)"));
  ASSERT_THAT((*session)->Receive(&response), IsOk());
  EXPECT_FALSE(response.has_error());
  EXPECT_EQ(response.results_size(), 3);
  EXPECT_THAT((*session)->Finish(), IsOk());
}

TEST_F(LimitsEndToEndTest, TextLimitsNameTheFieldAndTheFlag) {
  StartServer({"--max-summary-length", "10", "--max-field-length=8"});
  v1::DiplomaticEvent event = TradeEvent("t-1", 2023);
  event.set_summary("Ten chars.");
  v1::PublishRequest request;
  *request.add_events() = TradeEvent("t-0", 2022);
  *request.add_events() = event;
  ASSERT_THAT(client_->Publish(request), IsOk());

  request.mutable_events(1)->set_event_id("t-2");
  request.mutable_events(1)->set_summary("Eleven char");
  EXPECT_THAT(client_->Publish(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "events[1] (event_id \"t-2\"): events[1].summary: "
                       "\"Eleven char\" is 11 characters long; at most 10 are "
                       "allowed (--max-summary-length=10)"));

  request.mutable_events(1)->set_summary("");
  request.mutable_events(1)->mutable_trade()->set_reporter("China customs");
  EXPECT_THAT(
      client_->Publish(request),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "events[1] (event_id \"t-2\"): events[1].trade.reporter: "
               "\"China customs\" is 13 characters long; at most 8 are "
               "allowed (--max-field-length=8)"));
}

TEST_F(LimitsEndToEndTest, MaxEventBytesIsResourceExhausted) {
  StartServer({"--max-event-bytes", "1024"});
  v1::DiplomaticEvent event = TradeEvent("fat", 2023);
  event.set_summary(std::string(2000, 's'));
  v1::PublishRequest request;
  *request.add_events() = event;
  EXPECT_THAT(client_->Publish(request),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       AllOf(HasSubstr("events[0] (event_id \"fat\"): the "
                                       "event is "),
                             HasSubstr("the limit is 1024 bytes "
                                       "(--max-event-bytes=1024)"))));
  request.mutable_events(0)->set_summary(std::string(500, 's'));
  EXPECT_THAT(client_->Publish(request), IsOk());
}

TEST_F(LimitsEndToEndTest, MaxMessageBytesIsResourceExhaustedFromGrpc) {
  StartServer({"--max-message-bytes", "65536"});
  // About 600 bytes an event: 50 fit, 200 do not.
  auto batch = [](const std::string& prefix, int count) {
    v1::PublishRequest request = TradeBatch(prefix, count);
    for (v1::DiplomaticEvent& event : *request.mutable_events()) {
      event.set_summary(std::string(500, 's'));
    }
    return request;
  };
  ASSERT_LT(batch("small", 50).ByteSizeLong(), 65536U);
  ASSERT_GT(batch("large", 200).ByteSizeLong(), 65536U);
  EXPECT_THAT(client_->Publish(batch("small", 50)), IsOk());
  // gRPC refuses the message before the service sees it, with its own
  // words, which give both sizes.
  EXPECT_THAT(
      client_->Publish(batch("large", 200)),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("vs. 65536)")));
  // The server goes on serving.
  EXPECT_THAT(client_->Publish(TradeBatch("after", 1)), IsOk());
}

TEST_F(LimitsEndToEndTest, FilterLimitsApplyToSubscribeAndListings) {
  StartServer({"--max-filter-length", "30", "--max-filter-depth", "2"});
  v1::SubscribeRequest subscribe = HeartbeatingSubscription();
  subscribe.set_filter("headline:\"twenty-one characters\"");  // 32
  std::unique_ptr<client::AlertStream> stream = Subscribe(subscribe);
  ASSERT_NE(stream, nullptr);
  v1::SubscribeResponse response;
  EXPECT_THAT(stream->Next(&response, kStreamWait),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "filter: column 31: filter is longer than 30 "
                       "characters (--max-filter-length=30)"));

  v1::ListAlertsRequest alerts;
  alerts.set_filter("((severity = HIGH))");
  EXPECT_THAT(client_->ListAlerts(alerts), IsOk());
  alerts.set_filter("(((severity = HIGH)))");
  EXPECT_THAT(client_->ListAlerts(alerts),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "filter: column 3: nesting deeper than 2 "
                       "(--max-filter-depth=2)"));
  v1::ListEventsRequest events;
  events.set_filter("kind = trade AND countries:CHN OR countries:RUS");
  EXPECT_THAT(client_->ListEvents(events),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("(--max-filter-length=30)")));
}

TEST_F(LimitsEndToEndTest, FullPublishQueueRefusesRequestsWhichARetryStores) {
  // One event may wait while the writer commits: a stream with many
  // requests in flight finds the queue full.
  StartServer({"--max-pending-events", "1"});
  auto session = client_->PublishStream();
  ASSERT_THAT(session, IsOk());
  constexpr int kRequests = 200;
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_THAT((*session)->Send(TradeBatch(absl::StrCat("q", i), 1)), IsOk());
  }
  std::vector<int> refused;
  v1::PublishResponse response;
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_THAT((*session)->Receive(&response), IsOk());
    if (!response.has_error()) continue;
    EXPECT_EQ(response.error().code(),
              static_cast<int>(absl::StatusCode::kUnavailable));
    EXPECT_THAT(response.error().message(),
                AllOf(HasSubstr("publish queue full: "),
                      HasSubstr("(--max-pending-events=1)")));
    refused.push_back(i);
  }
  EXPECT_THAT((*session)->Finish(), IsOk());
  EXPECT_FALSE(refused.empty());
  // Nothing of a refused request was stored: its retry is ACCEPTED.
  for (int i : refused) {
    auto retry = client_->Publish(TradeBatch(absl::StrCat("q", i), 1));
    ASSERT_THAT(retry, IsOk());
    EXPECT_EQ(retry->results(0).outcome(), v1::PublishResult::ACCEPTED);
  }
}

TEST(LimitsFlagsTest, BadLimitValueIsAUsageErrorNamingTheFlag) {
  DipwiredRun run = RunDipwiredOnLoopback({"--max-streams", "0"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("dipwired: --max-streams: \"0\" is not a "
                                 "whole number in 1..1000000"));
  EXPECT_THAT(run.err, HasSubstr("usage: dipwired"));

  run = RunDipwiredOnLoopback({"--max-batch-events=lots"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err,
              HasSubstr("--max-batch-events: \"lots\" is not a whole number"));

  run = RunDipwiredOnLoopback({"--max-filter-depth", "100000"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--max-filter-depth: \"100000\" is not a "
                                 "whole number in 1..256"));

  run = RunDipwiredOnLoopback({"--max-pending-events"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--max-pending-events needs a value"));
}

}  // namespace
}  // namespace dipwire

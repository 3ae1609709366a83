// End-to-end tests of durable subscriptions and Acknowledge: the real
// dipwired binary on 127.0.0.1:0 with a temporary data directory, driven
// over gRPC through the real client library. kill -9 and restart are real.

#include <csignal>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/dipwired_process.h"
#include "tests/testing/e2e_fixture.h"
#include "tests/testing/status_matchers.h"

namespace dipwire {
namespace {

using ::dipwire::testing::AwaitEnd;
using ::dipwire::testing::ConnectClient;
using ::dipwire::testing::DipwiredProcess;
using ::dipwire::testing::DipwiredTest;
using ::dipwire::testing::IsOk;
using ::dipwire::testing::kStreamWait;
using ::dipwire::testing::NewTempDir;
using ::dipwire::testing::NumberedPeaceEvent;
using ::dipwire::testing::ReadAlerts;
using ::dipwire::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

v1::SubscribeRequest Durable(const std::string& name) {
  v1::SubscribeRequest request;
  request.set_subscription(name);
  request.mutable_heartbeat_interval()->set_seconds(1);
  return request;
}

v1::SubscribeRequest DurableFromEarliest(const std::string& name) {
  v1::SubscribeRequest request = Durable(name);
  request.set_position(v1::SubscribeRequest::EARLIEST);
  return request;
}

class DurableSubscriptionTest : public DipwiredTest {
 protected:
  // Publishes events first..last (one alert each).
  static void PublishEvents(client::Client& client, int first, int last) {
    v1::PublishRequest request;
    for (int n = first; n <= last; ++n)
      *request.add_events() = NumberedPeaceEvent(n);
    ASSERT_THAT(client.Publish(request), IsOk());
  }

  absl::Status Ack(const std::string& name, const std::string& cursor) {
    v1::AcknowledgeRequest request;
    request.set_subscription(name);
    request.set_cursor(cursor);
    return client_->Acknowledge(request).status();
  }

  struct StartOutcome {
    std::vector<v1::Alert> alerts;  // the history
    std::string served;             // first alert id of the stream started
    std::string stored_cursor;      // the subscription's cursor then
    std::string resumed;  // first alert id of a later stream without start
  };

  // Publishes `count` alerts, reads them on a new subscription "desk" from
  // EARLIEST and acknowledges alerts[acked]; then starts a stream of "desk"
  // after alerts[start], and after it one without a start.
  StartOutcome AckThenStart(int count, int acked, int start) {
    StartOutcome outcome;
    PublishEvents(*client_, 1, count);
    auto first = Subscribe(DurableFromEarliest("desk"));
    if (first == nullptr) return outcome;
    outcome.alerts = ReadAlerts(*first, count);
    if (outcome.alerts.size() != static_cast<size_t>(count)) return outcome;
    EXPECT_THAT(Ack("desk", outcome.alerts[acked].cursor()), IsOk());
    first->Cancel();

    v1::SubscribeRequest request = Durable("desk");
    request.set_after_cursor(outcome.alerts[start].cursor());
    std::vector<v1::Alert> served = FirstAlert(request);
    if (!served.empty()) outcome.served = served[0].alert_id();
    outcome.stored_cursor = List().at(0).cursor();
    std::vector<v1::Alert> resumed = FirstAlert(Durable("desk"));
    if (!resumed.empty()) outcome.resumed = resumed[0].alert_id();
    return outcome;
  }

  // The first alert of a stream started with `request` (then cancelled).
  std::vector<v1::Alert> FirstAlert(const v1::SubscribeRequest& request) {
    auto stream = Subscribe(request);
    if (stream == nullptr) return {};
    std::vector<v1::Alert> alerts = ReadAlerts(*stream, 1);
    stream->Cancel();
    return alerts;
  }

  std::vector<v1::Subscription> List() {
    auto listed = client_->ListSubscriptions(v1::ListSubscriptionsRequest());
    EXPECT_THAT(listed, IsOk());
    if (!listed.ok()) return {};
    return {listed->subscriptions().begin(), listed->subscriptions().end()};
  }
};

TEST_F(DurableSubscriptionTest, CreatedOnFirstUseAtEarliest) {
  PublishEvents(*client_, 1, 3);
  auto stream = Subscribe(DurableFromEarliest("desk"));
  ASSERT_NE(stream, nullptr);
  std::vector<v1::Alert> alerts = ReadAlerts(*stream, 3);
  ASSERT_THAT(alerts, SizeIs(3));
  EXPECT_EQ(alerts[0].event().event_id(), "p1");

  std::vector<v1::Subscription> listed = List();
  ASSERT_THAT(listed, SizeIs(1));
  EXPECT_EQ(listed[0].name(), "desk");
  EXPECT_EQ(listed[0].cursor(), "");  // created at EARLIEST, nothing acked
  EXPECT_TRUE(listed[0].has_updated_at());
  stream->Cancel();
}

TEST_F(DurableSubscriptionTest, ResumesAfterTheLastAck) {
  PublishEvents(*client_, 1, 3);
  auto first = Subscribe(DurableFromEarliest("desk"));
  ASSERT_NE(first, nullptr);
  std::vector<v1::Alert> alerts = ReadAlerts(*first, 3);
  ASSERT_THAT(alerts, SizeIs(3));
  ASSERT_THAT(Ack("desk", alerts[1].cursor()), IsOk());
  first->Cancel();

  auto second = Subscribe(Durable("desk"));  // no start: resume
  ASSERT_NE(second, nullptr);
  std::vector<v1::Alert> resumed = ReadAlerts(*second, 1);
  ASSERT_THAT(resumed, Not(IsEmpty()));
  EXPECT_EQ(resumed[0].alert_id(), alerts[2].alert_id());
  EXPECT_EQ(List().at(0).cursor(), alerts[1].cursor());
  second->Cancel();
}

TEST_F(DurableSubscriptionTest, NewNameWithoutStartIsCreatedAtLatest) {
  PublishEvents(*client_, 1, 2);
  auto stream = Subscribe(Durable("desk"));
  ASSERT_NE(stream, nullptr);
  // The first response is a heartbeat: nothing of the history.
  v1::SubscribeResponse response;
  auto next = stream->Next(&response, kStreamWait);
  ASSERT_THAT(next, IsOk());
  EXPECT_THAT(response.alerts(), SizeIs(0));
  PublishEvents(*client_, 3, 3);
  std::vector<v1::Alert> alerts = ReadAlerts(*stream, 1);
  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(alerts[0].event().event_id(), "p3");
  stream->Cancel();
}

TEST_F(DurableSubscriptionTest, StartBeforeTheLastAckMovesItBack) {
  const StartOutcome outcome = AckThenStart(3, /*acked=*/2, /*start=*/0);
  ASSERT_THAT(outcome.alerts, SizeIs(3));
  EXPECT_EQ(outcome.served, outcome.alerts[1].alert_id());
  // A replay: the subscription is back at the first alert.
  EXPECT_EQ(outcome.stored_cursor, outcome.alerts[0].cursor());
  EXPECT_EQ(outcome.resumed, outcome.alerts[1].alert_id());
}

TEST_F(DurableSubscriptionTest, StartAfterTheLastAckMovesItForward) {
  const StartOutcome outcome = AckThenStart(4, /*acked=*/0, /*start=*/2);
  ASSERT_THAT(outcome.alerts, SizeIs(4));
  EXPECT_EQ(outcome.served, outcome.alerts[3].alert_id());
  // A skip: alerts 2 and 3 are passed over, acknowledged or not.
  EXPECT_EQ(outcome.stored_cursor, outcome.alerts[2].cursor());
  EXPECT_EQ(outcome.resumed, outcome.alerts[3].alert_id());
}

TEST_F(DurableSubscriptionTest, NewerStreamTakesOverAndTheOlderEndsAborted) {
  PublishEvents(*client_, 1, 2);
  auto older = Subscribe(DurableFromEarliest("desk"));
  ASSERT_NE(older, nullptr);
  std::vector<v1::Alert> alerts = ReadAlerts(*older, 2);
  ASSERT_THAT(alerts, SizeIs(2));

  auto newer = Subscribe(Durable("desk"));
  ASSERT_NE(newer, nullptr);
  EXPECT_THAT(AwaitEnd(*older),
              StatusIs(absl::StatusCode::kAborted,
                       HasSubstr("another stream took over subscription "
                                 "desk")));
  // The older stream's acks still count: acks are by name.
  EXPECT_THAT(Ack("desk", alerts[1].cursor()), IsOk());
  EXPECT_EQ(List().at(0).cursor(), alerts[1].cursor());

  // The newer stream resumed where the subscription stood when it attached
  // (nothing acknowledged yet), then goes live.
  PublishEvents(*client_, 3, 3);
  std::vector<v1::Alert> resumed = ReadAlerts(*newer, 3);
  ASSERT_THAT(resumed, SizeIs(3));
  EXPECT_EQ(resumed[0].event().event_id(), "p1");
  EXPECT_EQ(resumed[2].event().event_id(), "p3");
  newer->Cancel();
}

TEST_F(DurableSubscriptionTest, DeletingASubscriptionEndsItsOpenStream) {
  PublishEvents(*client_, 1, 1);
  auto stream = Subscribe(DurableFromEarliest("desk"));
  ASSERT_NE(stream, nullptr);
  ASSERT_THAT(ReadAlerts(*stream, 1), SizeIs(1));

  v1::DeleteSubscriptionRequest request;
  request.set_name("desk");
  ASSERT_THAT(client_->DeleteSubscription(request), IsOk());
  EXPECT_THAT(AwaitEnd(*stream),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("durable subscription desk was deleted")));
  // Gone for good: the ending stream did not write it back.
  EXPECT_THAT(List(), IsEmpty());
}

TEST_F(DurableSubscriptionTest, AckOfAnOlderCursorIsANoOp) {
  PublishEvents(*client_, 1, 3);
  auto stream = Subscribe(DurableFromEarliest("desk"));
  ASSERT_NE(stream, nullptr);
  std::vector<v1::Alert> alerts = ReadAlerts(*stream, 3);
  ASSERT_THAT(alerts, SizeIs(3));
  stream->Cancel();
  ASSERT_THAT(Ack("desk", alerts[2].cursor()), IsOk());
  EXPECT_THAT(Ack("desk", alerts[0].cursor()), IsOk());
  EXPECT_EQ(List().at(0).cursor(), alerts[2].cursor());
}

TEST_F(DurableSubscriptionTest, AckErrors) {
  PublishEvents(*client_, 1, 1);
  auto stream = Subscribe(DurableFromEarliest("desk"));
  ASSERT_NE(stream, nullptr);
  std::vector<v1::Alert> alerts = ReadAlerts(*stream, 1);
  ASSERT_THAT(alerts, SizeIs(1));
  stream->Cancel();

  EXPECT_THAT(Ack("nobody", alerts[0].cursor()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nobody")));
  EXPECT_THAT(
      Ack("desk", "not-a-cursor"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cursor")));
  EXPECT_THAT(
      Ack("Desk!", alerts[0].cursor()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("subscription")));

  // A cursor past the newest alert: one from another server with more.
  const std::string other_dir = NewTempDir("dipwired-other");
  auto other = DipwiredProcess::Start(other_dir);
  ASSERT_THAT(other, IsOk());
  auto other_client = ConnectClient((*other)->address());
  ASSERT_NE(other_client, nullptr);
  PublishEvents(*other_client, 1, 3);
  v1::ListAlertsRequest list;
  auto history = other_client->ListAlerts(list);
  ASSERT_THAT(history, IsOk());
  ASSERT_THAT(history->alerts(), SizeIs(3));
  other_client.reset();
  EXPECT_THAT((*other)->Stop(SIGTERM, absl::Seconds(15)), IsOk());
  EXPECT_THAT(Ack("desk", history->alerts(2).cursor()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("ahead of the newest alert")));
  EXPECT_EQ(List().at(0).cursor(), "");
}

TEST_F(DurableSubscriptionTest, BadNameIsInvalidArgument) {
  const std::vector<std::string> names = {"Desk", "_sink", "a b",
                                          std::string(65, 'a'), "d\xc3\xa9sk"};
  for (const std::string& name : names) {
    auto stream = Subscribe(Durable(name));
    ASSERT_NE(stream, nullptr);
    EXPECT_THAT(AwaitEnd(*stream), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("subscription")))
        << name;
  }
  EXPECT_THAT(List(), SizeIs(0));
}

TEST_F(DurableSubscriptionTest, SurvivesKillNineAndRestart) {
  PublishEvents(*client_, 1, 3);
  auto stream = Subscribe(DurableFromEarliest("desk"));
  ASSERT_NE(stream, nullptr);
  std::vector<v1::Alert> alerts = ReadAlerts(*stream, 3);
  ASSERT_THAT(alerts, SizeIs(3));
  ASSERT_THAT(Ack("desk", alerts[1].cursor()), IsOk());
  stream->Cancel();
  stream.reset();

  KillAndRestart();
  auto resumed_stream = Subscribe(Durable("desk"));
  ASSERT_NE(resumed_stream, nullptr);
  std::vector<v1::Alert> resumed = ReadAlerts(*resumed_stream, 1);
  ASSERT_THAT(resumed, Not(IsEmpty()));
  EXPECT_EQ(resumed[0].alert_id(), alerts[2].alert_id());
  resumed_stream->Cancel();
}

TEST_F(DurableSubscriptionTest, ListAndDelete) {
  PublishEvents(*client_, 1, 1);
  for (const char* name : {"night-desk", "day.desk"}) {
    auto stream = Subscribe(DurableFromEarliest(name));
    ASSERT_NE(stream, nullptr);
    ASSERT_THAT(ReadAlerts(*stream, 1), SizeIs(1));
    stream->Cancel();
  }
  std::vector<v1::Subscription> listed = List();
  ASSERT_THAT(listed, SizeIs(2));
  EXPECT_EQ(listed[0].name(), "day.desk");
  EXPECT_EQ(listed[1].name(), "night-desk");

  v1::DeleteSubscriptionRequest request;
  request.set_name("day.desk");
  EXPECT_THAT(client_->DeleteSubscription(request), IsOk());
  listed = List();
  ASSERT_THAT(listed, SizeIs(1));
  EXPECT_EQ(listed[0].name(), "night-desk");
  EXPECT_THAT(client_->DeleteSubscription(request),
              StatusIs(absl::StatusCode::kNotFound));
  request.set_name("");
  EXPECT_THAT(client_->DeleteSubscription(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name")));
}

}  // namespace
}  // namespace dipwire

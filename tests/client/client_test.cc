#include "client/client.h"

#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/fake_alert_service.h"
#include "tests/testing/status_matchers.h"

namespace dipwire::client {
namespace {

using ::dipwire::testing::FakeAlertService;
using ::dipwire::testing::FakeServer;
using ::dipwire::testing::IsOk;
using ::dipwire::testing::StatusIs;
using ::testing::HasSubstr;

v1::SubscribeResponse AlertsResponse(std::vector<std::string> alert_ids) {
  v1::SubscribeResponse response;
  for (std::string& id : alert_ids) {
    response.add_alerts()->set_alert_id(std::move(id));
  }
  return response;
}

v1::SubscribeResponse HeartbeatResponse() {
  v1::SubscribeResponse response;
  response.mutable_heartbeat()->set_head_cursor("c1");
  return response;
}

v1::DiplomaticEvent TradeEvent(std::string event_id) {
  v1::DiplomaticEvent event;
  event.set_event_id(std::move(event_id));
  event.mutable_trade()->set_year(2023);
  return event;
}

class ClientTest : public ::testing::Test {
 protected:
  std::unique_ptr<Client> ConnectToFake(
      absl::Duration call_timeout = absl::Seconds(10)) {
    EXPECT_TRUE(server_.ok());
    ClientOptions options;
    options.server = server_.address();
    options.call_timeout = call_timeout;
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
    EXPECT_THAT(client, IsOk());
    return client.ok() ? *std::move(client) : nullptr;
  }

  FakeAlertService service_;
  FakeServer server_{&service_};
};

TEST_F(ClientTest, ConnectRejectsAnEmptyServerAddress) {
  ClientOptions options;
  options.server = "";
  EXPECT_THAT(Client::Connect(options),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ClientTest, ConnectRejectsANonPositiveCallTimeout) {
  ClientOptions options;
  options.call_timeout = absl::ZeroDuration();
  EXPECT_THAT(
      Client::Connect(options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("timeout")));
}

TEST_F(ClientTest, PublishReturnsOneResultPerEventInOrder) {
  std::unique_ptr<Client> client = ConnectToFake();
  ASSERT_NE(client, nullptr);
  v1::PublishRequest request;
  *request.add_events() = TradeEvent("tass-1");
  *request.add_events() = TradeEvent("tass-2");

  absl::StatusOr<v1::PublishResponse> response = client->Publish(request);

  ASSERT_THAT(response, IsOk());
  ASSERT_EQ(response->results_size(), 2);
  EXPECT_EQ(response->results(0).event_id(), "tass-1");
  EXPECT_EQ(response->results(0).sequence(), 1U);
  EXPECT_EQ(response->results(1).event_id(), "tass-2");
  EXPECT_EQ(response->results(1).sequence(), 2U);
}

TEST_F(ClientTest, ServerErrorKeepsItsCodeAndMessage) {
  std::unique_ptr<Client> client = ConnectToFake();
  ASSERT_NE(client, nullptr);
  v1::PublishRequest request;
  *request.add_events() = TradeEvent("ok-1");
  *request.add_events() = TradeEvent("bad-2");

  EXPECT_THAT(client->Publish(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[1] (event_id \"bad-2\")")));
}

TEST_F(ClientTest, UnreachableServerIsUnavailable) {
  ClientOptions options;
  options.server = "127.0.0.1:1";
  options.call_timeout = absl::Seconds(5);
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  ASSERT_THAT(client, IsOk());

  EXPECT_THAT((*client)->ListAlerts(v1::ListAlertsRequest()),
              StatusIs(absl::StatusCode::kUnavailable));
  absl::StatusOr<std::unique_ptr<AlertStream>> stream =
      (*client)->Subscribe(v1::SubscribeRequest());
  ASSERT_THAT(stream, IsOk());
  v1::SubscribeResponse response;
  EXPECT_THAT((*stream)->Next(&response, absl::Seconds(5)),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(ClientTest, UnaryCallGivesUpAtTheCallTimeout) {
  std::unique_ptr<Client> client = ConnectToFake(absl::Milliseconds(200));
  ASSERT_NE(client, nullptr);
  v1::ListAlertsRequest request;
  request.set_filter("slow");  // The fake never answers it.

  const absl::Time start = absl::Now();
  EXPECT_THAT(client->ListAlerts(request),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(ClientTest, StreamDeliversResponsesInOrderThenEndsOk) {
  service_.set_subscribe_script(
      {AlertsResponse({"al-1", "al-2"}), HeartbeatResponse()},
      {AlertsResponse({"al-3"})}, absl::OkStatus());
  service_.Release();
  std::unique_ptr<Client> client = ConnectToFake();
  ASSERT_NE(client, nullptr);
  v1::SubscribeRequest request;
  request.set_filter("type = TRADE_RECORD");
  request.set_position(v1::SubscribeRequest::EARLIEST);
  absl::StatusOr<std::unique_ptr<AlertStream>> stream =
      client->Subscribe(request);
  ASSERT_THAT(stream, IsOk());

  v1::SubscribeResponse response;
  ASSERT_THAT((*stream)->Next(&response), IsOk());
  ASSERT_EQ(response.alerts_size(), 2);
  EXPECT_EQ(response.alerts(1).alert_id(), "al-2");
  ASSERT_THAT((*stream)->Next(&response), IsOk());
  EXPECT_EQ(response.heartbeat().head_cursor(), "c1");
  EXPECT_EQ(response.alerts_size(), 0);
  absl::StatusOr<bool> next = (*stream)->Next(&response);
  ASSERT_THAT(next, IsOk());
  ASSERT_TRUE(*next);
  EXPECT_EQ(response.alerts(0).alert_id(), "al-3");
  next = (*stream)->Next(&response);
  ASSERT_THAT(next, IsOk());
  EXPECT_FALSE(*next);
  next = (*stream)->Next(&response);  // Ended streams stay ended.
  ASSERT_THAT(next, IsOk());
  EXPECT_FALSE(*next);

  const std::vector<v1::SubscribeRequest> sent = service_.subscribe_requests();
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0].filter(), "type = TRADE_RECORD");
  EXPECT_EQ(sent[0].position(), v1::SubscribeRequest::EARLIEST);
}

TEST_F(ClientTest, StreamReturnsTheServersFinalError) {
  service_.set_subscribe_script(
      {}, {}, absl::InvalidArgumentError("filter: unknown field at column 1"));
  service_.Release();
  std::unique_ptr<Client> client = ConnectToFake();
  ASSERT_NE(client, nullptr);
  absl::StatusOr<std::unique_ptr<AlertStream>> stream =
      client->Subscribe(v1::SubscribeRequest());
  ASSERT_THAT(stream, IsOk());

  v1::SubscribeResponse response;
  EXPECT_THAT((*stream)->Next(&response, absl::Seconds(10)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "filter: unknown field at column 1"));
}

TEST_F(ClientTest, NextWithTimeoutExpiresButTheStreamStaysUsable) {
  service_.set_subscribe_script({AlertsResponse({"al-1"})},
                                {AlertsResponse({"al-2"})},
                                absl::CancelledError(""));
  std::unique_ptr<Client> client = ConnectToFake();
  ASSERT_NE(client, nullptr);
  absl::StatusOr<std::unique_ptr<AlertStream>> stream =
      client->Subscribe(v1::SubscribeRequest());
  ASSERT_THAT(stream, IsOk());
  v1::SubscribeResponse response;
  ASSERT_THAT((*stream)->Next(&response, absl::Seconds(10)), IsOk());
  EXPECT_EQ(response.alerts(0).alert_id(), "al-1");

  EXPECT_THAT((*stream)->Next(&response, absl::Milliseconds(50)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));

  service_.Release();
  absl::StatusOr<bool> next = (*stream)->Next(&response, absl::Seconds(10));
  ASSERT_THAT(next, IsOk());
  ASSERT_TRUE(*next);
  EXPECT_EQ(response.alerts(0).alert_id(), "al-2");
}

TEST_F(ClientTest, CancelWakesABlockedNextAndEndsTheCall) {
  service_.set_subscribe_script({}, {}, absl::CancelledError(""));
  std::unique_ptr<Client> client = ConnectToFake();
  ASSERT_NE(client, nullptr);
  absl::StatusOr<std::unique_ptr<AlertStream>> stream =
      client->Subscribe(v1::SubscribeRequest());
  ASSERT_THAT(stream, IsOk());
  AlertStream* alerts = stream->get();
  absl::Status next_status;
  std::thread consumer([&] {
    v1::SubscribeResponse response;
    next_status = alerts->Next(&response).status();
  });
  service_.subscribed().WaitForNotification();

  alerts->Cancel();
  consumer.join();

  EXPECT_THAT(next_status, StatusIs(absl::StatusCode::kCancelled));
  EXPECT_TRUE(service_.saw_cancellation().WaitForNotificationWithTimeout(
      absl::Seconds(10)));
  v1::SubscribeResponse response;
  EXPECT_THAT(alerts->Next(&response), StatusIs(absl::StatusCode::kCancelled));
}

TEST_F(ClientTest, DestroyingARunningStreamCancelsIt) {
  service_.set_subscribe_script({AlertsResponse({"al-1"})}, {},
                                absl::CancelledError(""));
  std::unique_ptr<Client> client = ConnectToFake();
  ASSERT_NE(client, nullptr);
  absl::StatusOr<std::unique_ptr<AlertStream>> stream =
      client->Subscribe(v1::SubscribeRequest());
  ASSERT_THAT(stream, IsOk());
  service_.subscribed().WaitForNotification();

  client.reset();  // The stream may outlive its client.
  stream->reset();

  EXPECT_TRUE(service_.saw_cancellation().WaitForNotificationWithTimeout(
      absl::Seconds(10)));
}

}  // namespace
}  // namespace dipwire::client

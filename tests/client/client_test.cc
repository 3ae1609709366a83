#include "client/client.h"

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
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
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

v1::SubscribeResponse AlertsResponse(std::vector<std::string> alert_ids) {
  v1::SubscribeResponse response;
  for (std::string& id : alert_ids) {
    response.add_alerts()->set_alert_id(std::move(id));
  }
  return response;
}

// One alert per id, each with the cursor "c-<id>".
v1::SubscribeResponse AlertsWithCursors(std::vector<std::string> alert_ids) {
  v1::SubscribeResponse response;
  for (std::string& id : alert_ids) {
    v1::Alert* alert = response.add_alerts();
    alert->set_cursor("c-" + id);
    alert->set_alert_id(std::move(id));
  }
  return response;
}

v1::SubscribeResponse HeartbeatResponse(std::string head_cursor = "c1") {
  v1::SubscribeResponse response;
  response.mutable_heartbeat()->set_head_cursor(std::move(head_cursor));
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

TEST_F(ClientTest, ConnectRefusesAPlaintextTokenForAnotherMachine) {
  ClientOptions options;
  options.server = "203.0.113.1:50051";  // TEST-NET-3; never contacted
  options.token = "dw_secret";
  const absl::StatusOr<std::unique_ptr<Client>> refused =
      Client::Connect(options);
  EXPECT_THAT(refused,
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("plaintext to 203.0.113.1:50051"),
                             HasSubstr("--plaintext-token"))));
  EXPECT_THAT(refused.status().message(), Not(HasSubstr("dw_secret")));

  // Allowed explicitly. The channel connects lazily: nothing is sent.
  // (Tokens over plaintext loopback are auth_e2e_test's.)
  options.plaintext_token = true;
  EXPECT_THAT(Client::Connect(options), IsOk());
}

TEST_F(ClientTest, APlaintextTokenToLoopbackBypassesAProxyFromTheEnvironment) {
  // gRPC sends every connection through http_proxy, loopback included: a
  // token let through because the target is local would reach the proxy in
  // plaintext. Port 1 refuses connections: through it, the call would fail.
  // NOLINTNEXTLINE(concurrency-mt-unsafe): gRPC reads it at Connect, below.
  ASSERT_EQ(setenv("http_proxy", "http://127.0.0.1:1", 1), 0);
  ClientOptions options;
  options.server = server_.address();
  options.token = "dw_secret";
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  ASSERT_THAT(client, IsOk());
  v1::PublishRequest request;
  *request.add_events() = TradeEvent("proxy-1");
  const absl::StatusOr<v1::PublishResponse> response =
      (*client)->Publish(request);
  ASSERT_EQ(unsetenv("http_proxy"), 0);  // NOLINT(concurrency-mt-unsafe)
  EXPECT_THAT(response, IsOk());
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

// --- The backoff schedule -------------------------------------------------

ReconnectOptions Schedule(absl::Duration initial, absl::Duration max,
                          double multiplier, double jitter) {
  ReconnectOptions options;
  options.initial_backoff = initial;
  options.max_backoff = max;
  options.multiplier = multiplier;
  options.jitter = jitter;
  return options;
}

TEST(ReconnectDelayTest, GrowsByTheMultiplierFromTheInitialBackoff) {
  const ReconnectOptions options =
      Schedule(absl::Milliseconds(100), absl::Seconds(10), 2.0, 0.2);
  // 0.5 is the middle of the jitter range: the un-jittered wait.
  EXPECT_EQ(ReconnectDelay(options, 1, 0.5), absl::Milliseconds(100));
  EXPECT_EQ(ReconnectDelay(options, 2, 0.5), absl::Milliseconds(200));
  EXPECT_EQ(ReconnectDelay(options, 4, 0.5), absl::Milliseconds(800));
}

TEST(ReconnectDelayTest, JitterStaysWithinItsBounds) {
  const ReconnectOptions options =
      Schedule(absl::Milliseconds(100), absl::Seconds(10), 2.0, 0.2);
  EXPECT_EQ(ReconnectDelay(options, 1, 0.0), absl::Milliseconds(80));
  EXPECT_EQ(ReconnectDelay(options, 3, 0.0), absl::Milliseconds(320));
  for (int attempt = 1; attempt <= 12; ++attempt) {
    for (const double u : {0.0, 0.1, 0.37, 0.5, 0.81, 0.999999}) {
      const absl::Duration base = ReconnectDelay(options, attempt, 0.5);
      const absl::Duration delay = ReconnectDelay(options, attempt, u);
      EXPECT_GE(delay, base * 0.8 - absl::Nanoseconds(1))
          << attempt << " " << u;
      EXPECT_LE(delay, base * 1.2) << attempt << " " << u;
    }
  }
  // Different draws give different waits: clients cut off together do not
  // come back together.
  EXPECT_LT(ReconnectDelay(options, 2, 0.1), ReconnectDelay(options, 2, 0.9));
}

TEST(ReconnectDelayTest, IsCappedAtTheMaxBackoffBeforeJitter) {
  const ReconnectOptions options =
      Schedule(absl::Milliseconds(100), absl::Seconds(10), 2.0, 0.2);
  EXPECT_EQ(ReconnectDelay(options, 8, 0.5), absl::Seconds(10));  // not 12.8
  EXPECT_EQ(ReconnectDelay(options, 1000, 0.5), absl::Seconds(10));
  EXPECT_EQ(ReconnectDelay(options, 1'000'000, 0.999999),
            absl::Seconds(10) * (1.0 + 0.2 * (2 * 0.999999 - 1)));
  EXPECT_EQ(ReconnectDelay(options, 1000, 0.0), absl::Seconds(8));
}

TEST(ReconnectDelayTest, WithoutJitterTheScheduleIsExact) {
  const ReconnectOptions options =
      Schedule(absl::Milliseconds(10), absl::Milliseconds(50), 3.0, 0.0);
  std::vector<absl::Duration> delays;
  for (int attempt = 1; attempt <= 4; ++attempt) {
    delays.push_back(ReconnectDelay(options, attempt, 0.73));
  }
  EXPECT_THAT(delays,
              ElementsAre(absl::Milliseconds(10), absl::Milliseconds(30),
                          absl::Milliseconds(50), absl::Milliseconds(50)));
}

// --- Resumable streams, against the scripted fake ---------------------------

// Records what a resumable stream reports; thread-safe.
class EventRecorder {
 public:
  void On(const ReconnectEvent& event) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    events_.push_back(event);
    if (event.kind == ReconnectEvent::Kind::kResumed) {
      ++resumed_;
      if (resumed_ == 1) first_resume_.Notify();
    }
  }
  std::vector<ReconnectEvent> events() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  absl::Notification& first_resume() { return first_resume_; }

  // Fast, exact waits: 10 ms, 20 ms, 40 ms, ...
  ReconnectOptions Options() {
    ReconnectOptions options;
    options.initial_backoff = absl::Milliseconds(10);
    options.max_backoff = absl::Seconds(1);
    options.jitter = 0.0;
    options.on_event = [this](const ReconnectEvent& event) { On(event); };
    return options;
  }

 private:
  absl::Notification first_resume_;
  absl::Mutex mu_;
  std::vector<ReconnectEvent> events_ ABSL_GUARDED_BY(mu_);
  int resumed_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST_F(ClientTest, SubscribeResumableRejectsOutOfRangeOptions) {
  std::unique_ptr<Client> client = ConnectToFake();
  ASSERT_NE(client, nullptr);
  std::vector<ReconnectOptions> bad(7);
  bad[0].initial_backoff = absl::ZeroDuration();
  bad[1].max_backoff = absl::Milliseconds(10);  // under initial_backoff
  bad[2].multiplier = 0.5;
  bad[3].jitter = 1.5;
  bad[4].jitter = -0.1;
  bad[5].max_attempts = -1;
  bad[6].give_up_after = absl::Seconds(-1);
  for (size_t i = 0; i < bad.size(); ++i) {
    EXPECT_THAT(client->SubscribeResumable(v1::SubscribeRequest(), bad[i]),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << i;
  }
  EXPECT_THAT(service_.subscribe_requests(), IsEmpty());
}

TEST_F(ClientTest, ResumableStreamResubscribesAfterTheLastReturnedAlert) {
  // Every call: two alerts, then UNAVAILABLE (the fake ignores the start).
  service_.set_subscribe_script({AlertsWithCursors({"al-1", "al-2"})}, {},
                                absl::UnavailableError("connection reset"));
  service_.Release();
  std::unique_ptr<Client> client = ConnectToFake();
  ASSERT_NE(client, nullptr);
  v1::SubscribeRequest request;
  request.set_filter("countries:UKR");
  request.set_position(v1::SubscribeRequest::EARLIEST);
  request.set_subscription("desk");
  EventRecorder recorder;
  absl::StatusOr<std::unique_ptr<AlertStream>> stream =
      client->SubscribeResumable(request, recorder.Options());
  ASSERT_THAT(stream, IsOk());

  v1::SubscribeResponse response;
  for (int call = 0; call < 3; ++call) {
    ASSERT_THAT((*stream)->Next(&response, absl::Seconds(10)), IsOk());
    ASSERT_EQ(response.alerts_size(), 2) << call;
    EXPECT_EQ(response.alerts(1).alert_id(), "al-2");
  }
  (*stream)->Cancel();
  EXPECT_THAT((*stream)->Next(&response),
              StatusIs(absl::StatusCode::kCancelled));

  const std::vector<v1::SubscribeRequest> sent = service_.subscribe_requests();
  ASSERT_GE(sent.size(), 3U);
  EXPECT_EQ(sent[0].position(), v1::SubscribeRequest::EARLIEST);
  for (size_t i = 1; i < sent.size(); ++i) {
    EXPECT_EQ(sent[i].after_cursor(), "c-al-2") << i;
    EXPECT_EQ(sent[i].filter(), "countries:UKR") << i;
    EXPECT_EQ(sent[i].subscription(), "desk") << i;
  }
  EXPECT_GE((*stream)->reconnects(), 2);
  // Each stream delivered a response, so each retry is a first attempt
  // again (the backoff was reset) and is followed by a resumption.
  const std::vector<ReconnectEvent> events = recorder.events();
  ASSERT_GE(events.size(), 4U);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(events[i].kind, i % 2 == 0 ? ReconnectEvent::Kind::kRetrying
                                         : ReconnectEvent::Kind::kResumed)
        << i;
    EXPECT_EQ(events[i].attempt, 1) << i;
  }
  EXPECT_THAT(events[0].status,
              StatusIs(absl::StatusCode::kUnavailable, "connection reset"));
  EXPECT_EQ(events[0].delay, absl::Milliseconds(10));
}

TEST_F(ClientTest, ResumableStreamDropsReadAheadThatWasNotReturned) {
  service_.set_subscribe_script(
      {AlertsWithCursors({"al-1"}), AlertsWithCursors({"al-2"}),
       AlertsWithCursors({"al-3"})},
      {}, absl::UnavailableError("connection reset"));
  service_.Release();
  std::unique_ptr<Client> client = ConnectToFake();
  ASSERT_NE(client, nullptr);
  EventRecorder recorder;
  absl::StatusOr<std::unique_ptr<AlertStream>> stream =
      client->SubscribeResumable(v1::SubscribeRequest(), recorder.Options());
  ASSERT_THAT(stream, IsOk());

  v1::SubscribeResponse response;
  ASSERT_THAT((*stream)->Next(&response, absl::Seconds(10)), IsOk());
  EXPECT_EQ(response.alerts(0).alert_id(), "al-1");
  // al-2 and al-3 reached the reader thread before the stream broke, but
  // were never returned: the second call starts after al-1, and its
  // responses replace them.
  ASSERT_TRUE(recorder.first_resume().WaitForNotificationWithTimeout(
      absl::Seconds(10)));
  ASSERT_THAT((*stream)->Next(&response, absl::Seconds(10)), IsOk());
  EXPECT_EQ(response.alerts(0).alert_id(), "al-1");  // of the second call
  (*stream)->Cancel();

  const std::vector<v1::SubscribeRequest> sent = service_.subscribe_requests();
  ASSERT_GE(sent.size(), 2U);
  EXPECT_EQ(sent[0].start_case(), v1::SubscribeRequest::START_NOT_SET);
  EXPECT_EQ(sent[1].after_cursor(), "c-al-1");
}

TEST_F(ClientTest, ResumableStreamKeepsTheOriginalStartUntilAResponse) {
  // Broken before any response: nothing tells where the stream stood.
  service_.set_subscribe_script({}, {},
                                absl::UnavailableError("connection reset"));
  service_.Release();
  std::unique_ptr<Client> client = ConnectToFake();
  ASSERT_NE(client, nullptr);
  v1::SubscribeRequest request;
  request.mutable_start_time()->set_seconds(1711962000);
  EventRecorder recorder;
  ReconnectOptions options = recorder.Options();
  options.max_attempts = 1;
  absl::StatusOr<std::unique_ptr<AlertStream>> stream =
      client->SubscribeResumable(request, options);
  ASSERT_THAT(stream, IsOk());

  v1::SubscribeResponse response;
  EXPECT_THAT((*stream)->Next(&response, absl::Seconds(10)),
              StatusIs(absl::StatusCode::kUnavailable));
  const std::vector<v1::SubscribeRequest> sent = service_.subscribe_requests();
  ASSERT_EQ(sent.size(), 2U);
  EXPECT_EQ(sent[1].start_case(), v1::SubscribeRequest::kStartTime);
  EXPECT_EQ(sent[1].start_time().seconds(), 1711962000);
}

TEST_F(ClientTest, ResumableStreamAtTheOriginResumesFromEarliest) {
  // A heartbeat without head_cursor: the stream stood before the first
  // alert (an empty log). Starting at LATEST again would skip whatever was
  // published while it was disconnected.
  service_.set_subscribe_script({HeartbeatResponse("")}, {},
                                absl::UnavailableError("connection reset"));
  service_.Release();
  std::unique_ptr<Client> client = ConnectToFake();
  ASSERT_NE(client, nullptr);
  v1::SubscribeRequest request;
  request.set_position(v1::SubscribeRequest::LATEST);
  EventRecorder recorder;
  absl::StatusOr<std::unique_ptr<AlertStream>> stream =
      client->SubscribeResumable(request, recorder.Options());
  ASSERT_THAT(stream, IsOk());

  v1::SubscribeResponse response;
  for (int call = 0; call < 2; ++call) {
    ASSERT_THAT((*stream)->Next(&response, absl::Seconds(10)), IsOk());
    EXPECT_TRUE(response.has_heartbeat());
  }
  (*stream)->Cancel();
  const std::vector<v1::SubscribeRequest> sent = service_.subscribe_requests();
  ASSERT_GE(sent.size(), 2U);
  EXPECT_EQ(sent[1].position(), v1::SubscribeRequest::EARLIEST);
}

TEST_F(ClientTest,
       ResumableStreamResumesAfterTheHeadCursorOfAReturnedHeartbeat) {
  // The filter passed over everything up to c9: a re-subscribe starts
  // there, not at the original start (LATEST would skip the alerts created
  // while disconnected; EARLIEST would scan again what was passed over).
  service_.set_subscribe_script(
      {AlertsResponse({"al-1"}), HeartbeatResponse("c9")}, {},
      absl::UnavailableError("connection reset"));
  service_.Release();
  std::unique_ptr<Client> client = ConnectToFake();
  ASSERT_NE(client, nullptr);
  v1::SubscribeRequest request;
  request.set_position(v1::SubscribeRequest::LATEST);
  EventRecorder recorder;
  absl::StatusOr<std::unique_ptr<AlertStream>> stream =
      client->SubscribeResumable(request, recorder.Options());
  ASSERT_THAT(stream, IsOk());

  v1::SubscribeResponse response;
  ASSERT_THAT((*stream)->Next(&response, absl::Seconds(10)), IsOk());
  ASSERT_EQ(response.alerts_size(), 1);
  ASSERT_THAT((*stream)->Next(&response, absl::Seconds(10)), IsOk());
  ASSERT_TRUE(response.has_heartbeat());
  // The second call's first response: the script again.
  ASSERT_THAT((*stream)->Next(&response, absl::Seconds(10)), IsOk());
  (*stream)->Cancel();
  const std::vector<v1::SubscribeRequest> sent = service_.subscribe_requests();
  ASSERT_GE(sent.size(), 2U);
  EXPECT_EQ(sent[1].after_cursor(), "c9");
}

TEST_F(ClientTest, ResumableStreamWithoutResponsesBacksOffThenGivesUp) {
  service_.set_subscribe_script({}, {},
                                absl::UnavailableError("connection refused"));
  service_.Release();
  std::unique_ptr<Client> client = ConnectToFake();
  ASSERT_NE(client, nullptr);
  EventRecorder recorder;
  ReconnectOptions options = recorder.Options();
  options.max_attempts = 3;
  absl::StatusOr<std::unique_ptr<AlertStream>> stream =
      client->SubscribeResumable(v1::SubscribeRequest(), options);
  ASSERT_THAT(stream, IsOk());

  v1::SubscribeResponse response;
  EXPECT_THAT((*stream)->Next(&response, absl::Seconds(10)),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("connection refused (gave up: 3 attempts")));
  EXPECT_EQ((*stream)->reconnects(), 3);
  EXPECT_THAT(service_.subscribe_requests(), ::testing::SizeIs(4));
  std::vector<int> attempts;
  std::vector<absl::Duration> delays;
  for (const ReconnectEvent& event : recorder.events()) {
    EXPECT_EQ(event.kind, ReconnectEvent::Kind::kRetrying);
    attempts.push_back(event.attempt);
    delays.push_back(event.delay);
  }
  EXPECT_THAT(attempts, ElementsAre(1, 2, 3));
  EXPECT_THAT(delays,
              ElementsAre(absl::Milliseconds(10), absl::Milliseconds(20),
                          absl::Milliseconds(40)));
}

TEST_F(ClientTest, ResumableStreamReturnsOtherStatusesWithoutRetrying) {
  service_.Release();
  std::unique_ptr<Client> client = ConnectToFake();
  ASSERT_NE(client, nullptr);
  const std::vector<absl::Status> statuses = {
      absl::InvalidArgumentError("filter: column 1: unknown field"),
      absl::NotFoundError("no such subscription"),
      absl::AbortedError("another stream took over subscription desk"),
      absl::PermissionDeniedError("subscribe role needed"),
      absl::UnauthenticatedError("no token"),
      absl::OutOfRangeError("the oldest cursor still available is x"),
      absl::InternalError("internal error"),
  };
  for (const absl::Status& status : statuses) {
    service_.set_subscribe_script({}, {}, status);
    EventRecorder recorder;
    absl::StatusOr<std::unique_ptr<AlertStream>> stream =
        client->SubscribeResumable(v1::SubscribeRequest(), recorder.Options());
    ASSERT_THAT(stream, IsOk());
    v1::SubscribeResponse response;
    EXPECT_THAT((*stream)->Next(&response, absl::Seconds(10)),
                StatusIs(status.code(), std::string(status.message())));
    EXPECT_EQ((*stream)->reconnects(), 0) << status;
    EXPECT_THAT(recorder.events(), IsEmpty()) << status;
  }
  EXPECT_THAT(service_.subscribe_requests(),
              ::testing::SizeIs(statuses.size()));
}

TEST_F(ClientTest, ResumableStreamRetriesTheServersStreamLimit) {
  const absl::Status full = absl::ResourceExhaustedError(
      "too many concurrent streams (--max-streams=1); retry later");
  service_.set_subscribe_script({}, {}, full);
  service_.Release();
  std::unique_ptr<Client> client = ConnectToFake();
  ASSERT_NE(client, nullptr);
  EventRecorder recorder;
  ReconnectOptions options = recorder.Options();
  options.max_attempts = 2;
  absl::StatusOr<std::unique_ptr<AlertStream>> stream =
      client->SubscribeResumable(v1::SubscribeRequest(), options);
  ASSERT_THAT(stream, IsOk());
  v1::SubscribeResponse response;
  EXPECT_THAT((*stream)->Next(&response, absl::Seconds(10)),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ((*stream)->reconnects(), 2);
}

TEST_F(ClientTest, PlainStreamDoesNotResubscribe) {
  service_.set_subscribe_script({AlertsWithCursors({"al-1"})}, {},
                                absl::UnavailableError("connection reset"));
  service_.Release();
  std::unique_ptr<Client> client = ConnectToFake();
  ASSERT_NE(client, nullptr);
  absl::StatusOr<std::unique_ptr<AlertStream>> stream =
      client->Subscribe(v1::SubscribeRequest());
  ASSERT_THAT(stream, IsOk());
  v1::SubscribeResponse response;
  ASSERT_THAT((*stream)->Next(&response, absl::Seconds(10)), IsOk());
  EXPECT_THAT((*stream)->Next(&response, absl::Seconds(10)),
              StatusIs(absl::StatusCode::kUnavailable, "connection reset"));
  EXPECT_EQ((*stream)->reconnects(), 0);
  EXPECT_THAT(service_.subscribe_requests(), ::testing::SizeIs(1));
}

}  // namespace
}  // namespace dipwire::client

// End-to-end tests of the client library's resumable subscriber
// (Client::SubscribeResumable): the real dipwired binary on 127.0.0.1 with
// a temporary data directory, killed (-9) or shut down and restarted on the
// same data directory and port while a subscriber reads.

#include <csignal>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/dipwired_process.h"
#include "tests/testing/e2e_fixture.h"
#include "tests/testing/status_matchers.h"

namespace dipwire {
namespace {

using ::dipwire::testing::AlertIds;
using ::dipwire::testing::DipwiredTest;
using ::dipwire::testing::IsOk;
using ::dipwire::testing::NumberedPeaceEvent;
using ::dipwire::testing::StatusIs;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

// How long a test waits for one response, or for a notification, before it
// fails: generous, since the machine may be busy. Never a speed assertion.
constexpr absl::Duration kWait = absl::Seconds(30);

// Records what a resumable stream reports; thread-safe (the stream's reader
// thread calls On).
class EventLog {
 public:
  client::ReconnectOptions Options() {
    client::ReconnectOptions options;
    // Short waits: the tests restart the server at once.
    options.initial_backoff = absl::Milliseconds(20);
    options.max_backoff = absl::Milliseconds(500);
    options.on_event = [this](const client::ReconnectEvent& event) {
      On(event);
    };
    return options;
  }

  void On(const client::ReconnectEvent& event) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    events_.push_back(event);
    if (event.kind == client::ReconnectEvent::Kind::kRetrying &&
        !retrying_.HasBeenNotified()) {
      retrying_.Notify();
    }
    if (event.kind == client::ReconnectEvent::Kind::kResumed &&
        !resumed_.HasBeenNotified()) {
      resumed_.Notify();
    }
  }

  // The events so far, one a line, for failure messages.
  std::string Describe() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    std::string text;
    for (const client::ReconnectEvent& event : events_) {
      absl::StrAppend(
          &text,
          event.kind == client::ReconnectEvent::Kind::kResumed ? "resumed"
                                                               : "retrying",
          " attempt ", event.attempt, " ", event.status.ToString(), "\n");
    }
    return text;
  }

  std::vector<client::ReconnectEvent> events() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return events_;
  }

  // Notified at the first kRetrying / kResumed event.
  absl::Notification& retrying() { return retrying_; }
  absl::Notification& resumed() { return resumed_; }

 private:
  absl::Notification retrying_;
  absl::Notification resumed_;
  absl::Mutex mu_;
  std::vector<client::ReconnectEvent> events_ ABSL_GUARDED_BY(mu_);
};

class ReconnectEndToEndTest : public DipwiredTest {
 protected:
  // Publishes events first..last, one Publish call each (so that a live
  // subscriber gets them in several responses).
  void PublishEach(int first, int last) {
    for (int n = first; n <= last; ++n) {
      v1::PublishRequest request;
      *request.add_events() = NumberedPeaceEvent(n);
      ASSERT_THAT(client_->Publish(request), IsOk()) << "p" << n;
    }
  }

  // Reads responses until `*alerts` holds `count` alerts; stops early (with
  // a test failure) when the stream ends or nothing comes within kWait.
  static void ReadUntil(client::AlertStream& stream, size_t count,
                        std::vector<v1::Alert>* alerts) {
    // Bounded: each round takes a response (or fails); heartbeats come at
    // most once a second, so 1,000 rounds are far more than needed.
    for (int round = 0; round < 1000 && alerts->size() < count; ++round) {
      v1::SubscribeResponse response;
      absl::StatusOr<bool> next = stream.Next(&response, kWait);
      ASSERT_THAT(next, IsOk()) << "after " << alerts->size() << " alerts";
      ASSERT_TRUE(*next) << "the stream ended after " << alerts->size();
      alerts->insert(alerts->end(), response.alerts().begin(),
                     response.alerts().end());
    }
    EXPECT_GE(alerts->size(), count);
  }

  static v1::SubscribeRequest FromEarliest() {
    v1::SubscribeRequest request;
    request.set_position(v1::SubscribeRequest::EARLIEST);
    request.mutable_heartbeat_interval()->set_seconds(1);
    return request;
  }
};

TEST_F(ReconnectEndToEndTest, KillAndRestartDeliversEveryAlertOnceInOrder) {
  PublishEach(1, 5);
  EventLog log;
  absl::StatusOr<std::unique_ptr<client::AlertStream>> stream =
      client_->SubscribeResumable(FromEarliest(), log.Options());
  ASSERT_THAT(stream, IsOk());
  std::vector<v1::Alert> seen;
  ReadUntil(**stream, 5, &seen);
  PublishEach(6, 10);
  ReadUntil(**stream, 7, &seen);  // Some of 6..10, maybe all of them.

  StopServer(SIGKILL);
  ASSERT_TRUE(log.retrying().WaitForNotificationWithTimeout(kWait));
  RestartOnTheSamePort();
  // Once the stream is back, so is the channel (a call made while it waits
  // to reconnect fails at once).
  ASSERT_TRUE(log.resumed().WaitForNotificationWithTimeout(kWait))
      << log.Describe();
  PublishEach(11, 15);
  ReadUntil(**stream, 15, &seen);

  const std::vector<v1::Alert> history = AllAlerts();
  ASSERT_THAT(history, SizeIs(15));
  EXPECT_THAT(AlertIds(seen), ElementsAreArray(AlertIds(history)));
  EXPECT_GE((*stream)->reconnects(), 1);
  const std::vector<client::ReconnectEvent> events = log.events();
  ASSERT_THAT(events, Not(IsEmpty()));
  EXPECT_EQ(events.front().kind, client::ReconnectEvent::Kind::kRetrying);
  EXPECT_EQ(events.front().attempt, 1);
  EXPECT_THAT(events.front().status, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(events.back().kind, client::ReconnectEvent::Kind::kResumed);

  // Live again: a new alert arrives on the same stream.
  PublishEach(16, 16);
  ReadUntil(**stream, 16, &seen);
  ASSERT_THAT(seen, SizeIs(16));
  EXPECT_EQ(seen.back().event().event_id(), "p16");
  (*stream)->Cancel();
}

TEST_F(ReconnectEndToEndTest, ReadAheadAlertsThatWereNotReturnedComeAgain) {
  // A durable subscription shows where a resubscribe starts: the server
  // moves (seeks) it to the stream's after_cursor.
  v1::SubscribeRequest request = FromEarliest();
  request.set_subscription("desk");
  // No heartbeats to fill the read-ahead while this thread does not read.
  request.mutable_heartbeat_interval()->set_seconds(3600);
  EventLog log;
  absl::StatusOr<std::unique_ptr<client::AlertStream>> stream =
      client_->SubscribeResumable(request, log.Options());
  ASSERT_THAT(stream, IsOk());
  PublishEach(1, 1);
  std::vector<v1::Alert> seen;
  ReadUntil(**stream, 1, &seen);
  ASSERT_THAT(seen, SizeIs(1));  // p2 was not published yet.
  // Delivered live, in a few responses: the reader thread takes them in
  // ahead of this thread, which does not ask for them before the restart.
  // Fewer than the stream's read-ahead bound (8 responses), so that the
  // reader thread goes on reading and sees the stream end.
  PublishEach(2, 6);
  const std::vector<v1::Alert> history = AllAlerts();
  ASSERT_THAT(history, SizeIs(6));

  StopServer(SIGTERM);  // Ends the stream with UNAVAILABLE.
  RestartOnTheSamePort();
  ASSERT_TRUE(log.resumed().WaitForNotificationWithTimeout(kWait))
      << log.Describe();

  // The resubscribe started after the last alert returned, p1, not after
  // the last one received, p6: p2..p6 come again, each once.
  ReadUntil(**stream, 6, &seen);
  EXPECT_THAT(AlertIds(seen), ElementsAreArray(AlertIds(history)));
  absl::StatusOr<v1::ListSubscriptionsResponse> listed =
      client_->ListSubscriptions(v1::ListSubscriptionsRequest());
  ASSERT_THAT(listed, IsOk());
  ASSERT_THAT(listed->subscriptions(), SizeIs(1));
  EXPECT_EQ(listed->subscriptions(0).cursor(), seen[0].cursor());
  (*stream)->Cancel();
}

TEST_F(ReconnectEndToEndTest, NonRetryableStatusIsReturnedAtOnce) {
  v1::SubscribeRequest request = FromEarliest();
  request.set_filter("severity >= URGENT");
  EventLog log;
  absl::StatusOr<std::unique_ptr<client::AlertStream>> stream =
      client_->SubscribeResumable(request, log.Options());
  ASSERT_THAT(stream, IsOk());

  v1::SubscribeResponse response;
  EXPECT_THAT((*stream)->Next(&response, kWait),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ((*stream)->reconnects(), 0);
  EXPECT_THAT(log.events(), IsEmpty());
}

TEST_F(ReconnectEndToEndTest, TakeoverOfADurableSubscriptionIsNotRetried) {
  v1::SubscribeRequest request = FromEarliest();
  request.set_subscription("desk");
  EventLog log;
  absl::StatusOr<std::unique_ptr<client::AlertStream>> first =
      client_->SubscribeResumable(request, log.Options());
  ASSERT_THAT(first, IsOk());
  v1::SubscribeResponse response;
  ASSERT_THAT((*first)->Next(&response, kWait), IsOk());  // A heartbeat.

  absl::StatusOr<std::unique_ptr<client::AlertStream>> second =
      client_->Subscribe(request);
  ASSERT_THAT(second, IsOk());

  absl::StatusOr<bool> next = true;
  for (int i = 0; i < 100 && next.ok() && *next; ++i) {
    next = (*first)->Next(&response, kWait);
  }
  EXPECT_THAT(next, StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ((*first)->reconnects(), 0);
  (*second)->Cancel();
}

TEST_F(ReconnectEndToEndTest, CancelEndsTheWaitBetweenAttempts) {
  EventLog log;
  client::ReconnectOptions options = log.Options();
  // Far longer than the test may run: only Cancel can end this wait.
  options.initial_backoff = absl::Hours(1);
  options.max_backoff = absl::Hours(1);
  auto stream = client_->SubscribeResumable(FromEarliest(), options);
  ASSERT_THAT(stream, IsOk());
  v1::SubscribeResponse response;
  ASSERT_THAT((*stream)->Next(&response, kWait), IsOk());  // A heartbeat.
  StopServer(SIGKILL);
  ASSERT_TRUE(log.retrying().WaitForNotificationWithTimeout(kWait));

  absl::Status next_status;
  std::thread consumer(
      [&] { next_status = (*stream)->Next(&response).status(); });
  (*stream)->Cancel();
  consumer.join();
  EXPECT_THAT(next_status, StatusIs(absl::StatusCode::kCancelled));

  // Destroying the stream joins its reader thread, which must have left
  // its one-hour wait.
  absl::Notification destroyed;
  std::thread destroyer([&] {
    stream->reset();
    destroyed.Notify();
  });
  EXPECT_TRUE(destroyed.WaitForNotificationWithTimeout(kWait));
  destroyer.join();
}

TEST_F(ReconnectEndToEndTest, GivesUpAfterMaxAttemptsWithTheLastStatus) {
  EventLog log;
  client::ReconnectOptions options = log.Options();
  options.max_attempts = 3;
  auto stream = client_->SubscribeResumable(FromEarliest(), options);
  ASSERT_THAT(stream, IsOk());
  v1::SubscribeResponse response;
  ASSERT_THAT((*stream)->Next(&response, kWait), IsOk());  // A heartbeat.
  StopServer(SIGKILL);

  absl::StatusOr<bool> next = true;
  for (int i = 0; i < 100 && next.ok() && *next; ++i) {
    next = (*stream)->Next(&response, kWait);
  }
  EXPECT_THAT(next, StatusIs(absl::StatusCode::kUnavailable,
                             HasSubstr("gave up: 3 attempts")));
  EXPECT_EQ((*stream)->reconnects(), 3);
  std::vector<int> attempts;
  for (const client::ReconnectEvent& event : log.events()) {
    EXPECT_EQ(event.kind, client::ReconnectEvent::Kind::kRetrying);
    EXPECT_THAT(event.status, StatusIs(absl::StatusCode::kUnavailable));
    attempts.push_back(event.attempt);
  }
  EXPECT_EQ(attempts, (std::vector<int>{1, 2, 3}));
}

TEST_F(ReconnectEndToEndTest, GivesUpAtTheDeadlineWithTheLastStatus) {
  EventLog log;
  client::ReconnectOptions options = log.Options();
  options.initial_backoff = absl::Milliseconds(50);
  options.max_backoff = absl::Milliseconds(50);
  options.give_up_after = absl::Milliseconds(500);
  StopServer(SIGKILL);  // Down from the start.
  auto stream = client_->SubscribeResumable(FromEarliest(), options);
  ASSERT_THAT(stream, IsOk());

  v1::SubscribeResponse response;
  EXPECT_THAT((*stream)->Next(&response, kWait),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("gave up: no connection for")));
  EXPECT_GE((*stream)->reconnects(), 1);
  EXPECT_FALSE(log.resumed().HasBeenNotified());
}

}  // namespace
}  // namespace dipwire

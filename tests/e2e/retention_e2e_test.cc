// End-to-end tests of retention (--retain-events, --retain-alerts): the
// real dipwired binary on 127.0.0.1:0 with a temporary data directory,
// driven over gRPC through the real client library; kill -9 and restart
// are real.

#include <csignal>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
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
using ::dipwire::testing::AwaitEnd;
using ::dipwire::testing::AwaitHeartbeat;
using ::dipwire::testing::DipwiredTest;
using ::dipwire::testing::IsOk;
using ::dipwire::testing::NewTempDir;
using ::dipwire::testing::NumberedPeaceEvent;
using ::dipwire::testing::ReadAlerts;
using ::dipwire::testing::RunDipwired;
using ::dipwire::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr int kPublished = 20;
constexpr int kKept = 5;

v1::SubscribeRequest After(const std::string& cursor) {
  v1::SubscribeRequest request;
  request.set_after_cursor(cursor);
  request.mutable_heartbeat_interval()->set_seconds(1);
  return request;
}

// The alert ids "al-<n>-0" of events first..last (one alert each).
std::vector<std::string> IdsOf(int first, int last) {
  std::vector<std::string> ids;
  for (int n = first; n <= last; ++n)
    ids.push_back(absl::StrCat("al-", n, "-0"));
  return ids;
}

class ServerRetentionTest : public DipwiredTest {
 protected:
  void SetUp() override { data_dir_ = NewTempDir("retention"); }

  // Starts dipwired with retention (a pass every 50 ms) plus `extra_args`.
  void StartWithRetention(const std::vector<std::string>& retention) {
    std::vector<std::string> args = retention;
    args.emplace_back("--retention-interval=50ms");
    args_ = args;
    StartServer(args);
  }

  // Publishes events 1..kPublished in one batch, reading their alerts (and
  // so their cursors) on a live stream started before.
  std::vector<v1::Alert> PublishAll() {
    v1::SubscribeRequest live;
    live.mutable_heartbeat_interval()->set_seconds(1);
    auto stream = Subscribe(live);
    if (stream == nullptr) return {};
    AwaitHeartbeat(*stream);
    v1::PublishRequest request;
    for (int n = 1; n <= kPublished; ++n) {
      *request.add_events() = NumberedPeaceEvent(n);
    }
    EXPECT_THAT(client_->Publish(request), IsOk());
    return ReadAlerts(*stream, kPublished);
  }

  // Waits (bounded) until the history holds exactly the newest kKept
  // alerts.
  void AwaitAlertsTrimmed() {
    for (int i = 0; i < 400; ++i) {
      if (AllAlerts().size() == static_cast<size_t>(kKept)) break;
      absl::SleepFor(absl::Milliseconds(25));  // polls the background pass
    }
    EXPECT_THAT(
        AlertIds(AllAlerts()),
        ElementsAre("al-16-0", "al-17-0", "al-18-0", "al-19-0", "al-20-0"));
  }

  // Waits (bounded) until the event history starts at `first`.
  void AwaitEventsTrimmed(uint64_t first) {
    for (int i = 0; i < 400; ++i) {
      v1::ListEventsRequest request;
      auto listed = client_->ListEvents(request);
      ASSERT_THAT(listed, IsOk());
      if (listed->sequences_size() > 0 && listed->sequences(0) == first) {
        return;
      }
      absl::SleepFor(absl::Milliseconds(25));  // polls the background pass
    }
    ADD_FAILURE() << "the events before " << first << " were not trimmed";
  }

  std::vector<std::string> args_;
};

TEST_F(ServerRetentionTest, CursorOlderThanTheKeptAlertsIsOutOfRange) {
  StartWithRetention({absl::StrCat("--retain-alerts=", kKept)});
  // A durable subscription that never acknowledged anything.
  v1::SubscribeRequest desk;
  desk.set_subscription("desk");
  desk.set_position(v1::SubscribeRequest::EARLIEST);
  desk.mutable_heartbeat_interval()->set_seconds(1);
  {
    auto stream = Subscribe(desk);
    ASSERT_NE(stream, nullptr);
    AwaitHeartbeat(*stream);
  }
  const std::vector<v1::Alert> alerts = PublishAll();
  ASSERT_THAT(alerts, SizeIs(kPublished));
  AwaitAlertsTrimmed();
  // Alert 15 is the last one removed: its cursor is the oldest available.
  const std::string oldest = alerts[kPublished - kKept - 1].cursor();

  auto old = Subscribe(After(alerts[2].cursor()));
  ASSERT_NE(old, nullptr);
  EXPECT_THAT(AwaitEnd(*old),
              StatusIs(absl::StatusCode::kOutOfRange,
                       HasSubstr(absl::StrCat(
                           "the oldest cursor still available is ", oldest))));

  // From the oldest cursor: exactly the kept alerts.
  auto resumed = Subscribe(After(oldest));
  ASSERT_NE(resumed, nullptr);
  EXPECT_EQ(AlertIds(ReadAlerts(*resumed, kKept)), IdsOf(16, 20));

  // EARLIEST starts at the oldest kept alert.
  v1::SubscribeRequest earliest;
  earliest.set_position(v1::SubscribeRequest::EARLIEST);
  auto from_start = Subscribe(earliest);
  ASSERT_NE(from_start, nullptr);
  EXPECT_EQ(AlertIds(ReadAlerts(*from_start, kKept)), IdsOf(16, 20));

  // The durable subscription is behind too: no silent skip.
  desk.clear_position();
  auto behind = Subscribe(desk);
  ASSERT_NE(behind, nullptr);
  EXPECT_THAT(
      AwaitEnd(*behind),
      StatusIs(absl::StatusCode::kOutOfRange,
               AllOf(HasSubstr("subscription \"desk\""), HasSubstr(oldest))));
}

TEST_F(ServerRetentionTest,
       TrimmedEventsStayDuplicatesAndDerivationSurvivesRestart) {
  StartWithRetention({absl::StrCat("--retain-alerts=", kKept),
                      absl::StrCat("--retain-events=", kKept)});
  ASSERT_THAT(PublishAll(), SizeIs(kPublished));
  AwaitAlertsTrimmed();
  AwaitEventsTrimmed(kPublished - kKept + 1);

  // A retry of a trimmed event: its original answer.
  v1::PublishRequest retry;
  *retry.add_events() = NumberedPeaceEvent(3);
  auto duplicate = client_->Publish(retry);
  ASSERT_THAT(duplicate, IsOk());
  EXPECT_EQ(duplicate->results(0).outcome(), v1::PublishResult::DUPLICATE);
  EXPECT_EQ(duplicate->results(0).sequence(), 3u);
  EXPECT_THAT(duplicate->results(0).alert_ids(), ElementsAre("al-3-0"));

  // kill -9 and restart on the same data: it serves, and a new report of
  // process-3 (whose only event lost its payload) continues from its state.
  StopServer(SIGKILL);
  StartServer(args_);
  v1::PublishRequest update;
  v1::DiplomaticEvent event = NumberedPeaceEvent(3);
  event.set_event_id("p3-stalled");
  event.mutable_peace_talk()->set_status(v1::PeaceTalkUpdate::STALLED);
  *update.add_events() = event;
  auto published = client_->Publish(update);
  ASSERT_THAT(published, IsOk());
  EXPECT_EQ(published->results(0).sequence(), kPublished + 1u);
  ASSERT_THAT(published->results(0).alert_ids(), SizeIs(1));
  const std::vector<v1::Alert> history = AllAlerts();
  ASSERT_FALSE(history.empty());
  const v1::Alert& alert = history.back();
  EXPECT_EQ(alert.alert_id(), published->results(0).alert_ids(0));
  EXPECT_EQ(alert.peace_talk_change().previous_status(),
            v1::PeaceTalkUpdate::PROPOSED);
  EXPECT_EQ(alert.peace_talk_change().status(), v1::PeaceTalkUpdate::STALLED);
}

TEST_F(ServerRetentionTest, KillDuringTrimmingLosesNothingKept) {
  // One alert and one event kept, a pass every 50 ms: a kill -9 right
  // after publishing lands before, during or after a pass, and every one
  // of those must restart into the same answers.
  StartWithRetention({"--retain-alerts=1", "--retain-events=1"});
  for (int batch = 0; batch < 3; ++batch) {
    v1::PublishRequest request;
    for (int n = batch * 200 + 1; n <= (batch + 1) * 200; ++n) {
      *request.add_events() = NumberedPeaceEvent(n);
    }
    ASSERT_THAT(client_->Publish(request), IsOk());
  }
  StopServer(SIGKILL);
  StartServer(args_);
  v1::PublishRequest retry;
  *retry.add_events() = NumberedPeaceEvent(7);
  auto duplicate = client_->Publish(retry);
  ASSERT_THAT(duplicate, IsOk());
  EXPECT_EQ(duplicate->results(0).outcome(), v1::PublishResult::DUPLICATE);
  EXPECT_EQ(duplicate->results(0).sequence(), 7u);
  EXPECT_THAT(duplicate->results(0).alert_ids(), ElementsAre("al-7-0"));
  v1::PublishRequest update;
  v1::DiplomaticEvent event = NumberedPeaceEvent(7);
  event.set_event_id("p7-agreed");
  event.mutable_peace_talk()->set_status(v1::PeaceTalkUpdate::AGREED);
  *update.add_events() = event;
  auto published = client_->Publish(update);
  ASSERT_THAT(published, IsOk());
  EXPECT_EQ(published->results(0).sequence(), 601u);
  // Once retention caught up, the history is the newest alert alone: the
  // change from what event 7 (long trimmed) said.
  std::vector<v1::Alert> history;
  for (int i = 0; i < 400; ++i) {
    history = AllAlerts();
    if (history.size() == 1) break;
    absl::SleepFor(absl::Milliseconds(25));  // polls the background pass
  }
  ASSERT_THAT(history, SizeIs(1));
  EXPECT_EQ(history[0].alert_id(), "al-601-0");
  EXPECT_EQ(history[0].peace_talk_change().previous_status(),
            v1::PeaceTalkUpdate::PROPOSED);
}

TEST(RetentionConfigTest, CheckConfigRefusesABadSpecNamingTheFlagOrField) {
  const std::string dir = NewTempDir("retention_config");
  const std::string config = absl::StrCat(dir, "/dipwired.textproto");
  {
    std::ofstream out(config);
    out << R"pb(retention {
                  events: "30d"
                  alerts: "1000"
                  interval { seconds: 5 }
                })pb";
  }
  const testing::DipwiredRun ok = RunDipwired({"--check-config", config});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("retention events 720h alerts 1000"));

  const testing::DipwiredRun flag =
      RunDipwired({"--check-config", config, "--retain-alerts=12x"});
  EXPECT_EQ(flag.exit_code, 2);
  EXPECT_THAT(flag.err, HasSubstr("--retain-alerts: \"12x\" is not a count"));

  const testing::DipwiredRun interval =
      RunDipwired({"--check-config", config, "--retention-interval=soon"});
  EXPECT_EQ(interval.exit_code, 2);
  EXPECT_THAT(interval.err, HasSubstr("--retention-interval: \"soon\""));

  {
    std::ofstream out(config);
    out << R"pb(retention { events: "-3d" })pb";
  }
  const testing::DipwiredRun field = RunDipwired({"--check-config", config});
  EXPECT_EQ(field.exit_code, 2);
  EXPECT_THAT(field.err, HasSubstr("retention.events: \"-3d\" is not a count"));
}

}  // namespace
}  // namespace dipwire

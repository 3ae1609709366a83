// End-to-end tests: the real dipwired binary on 127.0.0.1:0 with a
// temporary data directory, driven over gRPC through the real client
// library. kill -9 and restart are real.

#include <csignal>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "common/proto_json.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/testing/dipwired_process.h"
#include "tests/testing/e2e_fixture.h"
#include "tests/testing/status_matchers.h"

namespace dipwire {
namespace {

using ::dipwire::testing::AlertIds;
using ::dipwire::testing::AwaitHeartbeat;
using ::dipwire::testing::DipwiredTest;
using ::dipwire::testing::IsOk;
using ::dipwire::testing::kStreamWait;
using ::dipwire::testing::ReadAlerts;
using ::dipwire::testing::StatusIs;
using ::google::protobuf::util::MessageDifferencer;
using ::google::protobuf::util::TimeUtil;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

google::protobuf::Timestamp Ts(const std::string& rfc3339) {
  google::protobuf::Timestamp ts;
  EXPECT_TRUE(TimeUtil::FromString(rfc3339, &ts)) << rfc3339;
  return ts;
}

v1::DiplomaticEvent TradeEvent(const std::string& id, int year,
                               int64_t value_usd,
                               const std::string& reported_at) {
  v1::DiplomaticEvent event;
  event.set_event_id(id);
  *event.mutable_occurred_at() = Ts(absl::StrCat(year, "-12-31T00:00:00Z"));
  *event.mutable_reported_at() = Ts(reported_at);
  event.mutable_source()->set_outlet("Reuters");
  v1::TradeFigure* trade = event.mutable_trade();
  trade->set_country_a("CHN");
  trade->set_country_b("RUS");
  trade->set_year(year);
  trade->set_value_usd(value_usd);
  trade->set_flow(v1::TradeFigure::TOTAL);
  trade->set_reporter("China customs");
  return event;
}

v1::DiplomaticEvent PeaceEvent(const std::string& id,
                               v1::PeaceTalkUpdate::Status status,
                               const std::string& reported_at) {
  v1::DiplomaticEvent event;
  event.set_event_id(id);
  *event.mutable_occurred_at() = Ts("2024-06-15T00:00:00Z");
  *event.mutable_reported_at() = Ts(reported_at);
  event.mutable_source()->set_outlet("AP");
  v1::PeaceTalkUpdate* talk = event.mutable_peace_talk();
  talk->set_process_id("ukraine-peace-summit");
  talk->set_title("Ukraine peace summit");
  talk->set_status(status);
  talk->add_parties("UKR");
  talk->set_venue_country("CHE");
  return event;
}

v1::PublishRequest Batch(std::vector<v1::DiplomaticEvent> events) {
  v1::PublishRequest request;
  for (auto& event : events) *request.add_events() = std::move(event);
  return request;
}

class EndToEndTest : public DipwiredTest {};

TEST_F(EndToEndTest, LiveSubscriberReceivesAlertsOfNewEvents) {
  v1::SubscribeRequest request;
  request.set_position(v1::SubscribeRequest::EARLIEST);
  auto stream = Subscribe(request);
  ASSERT_NE(stream, nullptr);

  auto published = client_->Publish(Batch(
      {TradeEvent("t-2022", 2022, 190'300'000'000, "2023-01-13T00:00:00Z"),
       TradeEvent("t-2023", 2023, 240'100'000'000, "2024-01-12T00:00:00Z")}));
  ASSERT_THAT(published, IsOk());
  ASSERT_THAT(published->results(), SizeIs(2));
  EXPECT_EQ(published->results(0).outcome(), v1::PublishResult::ACCEPTED);
  EXPECT_EQ(published->results(0).sequence(), 1u);
  EXPECT_EQ(published->results(1).sequence(), 2u);

  std::vector<v1::Alert> alerts = ReadAlerts(*stream, 2);
  ASSERT_THAT(alerts, SizeIs(2));
  EXPECT_EQ(alerts[0].type(), v1::Alert::TRADE_UPDATE);
  EXPECT_EQ(alerts[1].type(), v1::Alert::TRADE_RECORD);
  EXPECT_EQ(alerts[1].severity(), v1::Alert::HIGH);
  EXPECT_EQ(alerts[1].headline(),
            "Trade record: CHN–RUS total trade $240.1B in 2023 (previous "
            "high $190.3B in 2022)");
  EXPECT_THAT(alerts[1].countries(), ElementsAre("CHN", "RUS"));
  EXPECT_EQ(alerts[1].trade_change().previous_record_usd(), 190'300'000'000);
  EXPECT_THAT(published->results(1).alert_ids(),
              ElementsAre(alerts[1].alert_id()));
  // The alert carries the stored event, and its commit time.
  EXPECT_EQ(alerts[1].event().event_id(), "t-2023");
  EXPECT_TRUE(alerts[1].has_created_at());
  stream->Cancel();
}

TEST_F(EndToEndTest, LatestDeliversOnlyAlertsCommittedAfterTheStreamStarted) {
  ASSERT_THAT(
      client_->Publish(Batch({PeaceEvent("p1", v1::PeaceTalkUpdate::PROPOSED,
                                         "2024-04-01T00:00:00Z")})),
      IsOk());
  v1::SubscribeRequest request;
  request.mutable_heartbeat_interval()->set_seconds(1);
  auto stream = Subscribe(request);  // no start: LATEST
  ASSERT_NE(stream, nullptr);
  AwaitHeartbeat(*stream);

  ASSERT_THAT(
      client_->Publish(Batch({PeaceEvent("p2", v1::PeaceTalkUpdate::SCHEDULED,
                                         "2024-04-02T00:00:00Z")})),
      IsOk());
  std::vector<v1::Alert> alerts = ReadAlerts(*stream, 1);
  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(alerts[0].event().event_id(), "p2");
  EXPECT_EQ(alerts[0].peace_talk_change().previous_status(),
            v1::PeaceTalkUpdate::PROPOSED);
  stream->Cancel();
}

TEST_F(EndToEndTest, QuietStreamGetsHeartbeatsWithHeadCursor) {
  ASSERT_THAT(
      client_->Publish(Batch({PeaceEvent("p1", v1::PeaceTalkUpdate::PROPOSED,
                                         "2024-04-01T00:00:00Z")})),
      IsOk());
  v1::SubscribeRequest request;
  request.set_filter("type = TRADE_RECORD");  // matches nothing here
  request.set_position(v1::SubscribeRequest::EARLIEST);
  request.mutable_heartbeat_interval()->set_nanos(1000);  // raised to 1 s
  auto stream = Subscribe(request);
  ASSERT_NE(stream, nullptr);
  // The first heartbeat comes at once: the stream is attached, and has
  // passed over every alert up to its head_cursor.
  v1::SubscribeResponse response;
  ASSERT_THAT(stream->Next(&response, kStreamWait), IsOk());
  EXPECT_TRUE(response.has_heartbeat());
  EXPECT_EQ(response.heartbeat().head_cursor(), AllAlerts()[0].cursor());
  const absl::Time first = absl::Now();
  ASSERT_THAT(stream->Next(&response, kStreamWait), IsOk());
  EXPECT_TRUE(response.has_heartbeat());
  // The interval was raised to the 1 s minimum, not taken as 1 µs.
  EXPECT_GE(absl::Now() - first, absl::Milliseconds(900));
  stream->Cancel();
}

TEST_F(EndToEndTest, ReplayAppliesTheFilter) {
  ASSERT_THAT(
      client_->Publish(Batch(
          {TradeEvent("t-2022", 2022, 190'300'000'000, "2023-01-13T00:00:00Z"),
           PeaceEvent("p1", v1::PeaceTalkUpdate::PROPOSED,
                      "2024-04-01T00:00:00Z"),
           TradeEvent("t-2023", 2023, 240'100'000'000, "2024-01-12T00:00:00Z"),
           PeaceEvent("p2", v1::PeaceTalkUpdate::REJECTED,
                      "2024-04-02T00:00:00Z")})),
      IsOk());
  v1::SubscribeRequest request;
  request.set_position(v1::SubscribeRequest::EARLIEST);
  request.set_filter("severity >= HIGH AND NOT kind = trade");
  auto stream = Subscribe(request);
  ASSERT_NE(stream, nullptr);
  std::vector<v1::Alert> alerts = ReadAlerts(*stream, 1);
  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(alerts[0].event().event_id(), "p2");
  // Nothing else matches: the next response is a heartbeat, not an alert.
  stream->Cancel();

  EXPECT_THAT(AlertIds(AllAlerts("type = TRADE_RECORD")),
              ElementsAre(AllAlerts()[2].alert_id()));
}

TEST_F(EndToEndTest, ResumeAfterCursorHasNoGapAndNoDuplicate) {
  std::vector<v1::DiplomaticEvent> events;
  for (int year = 2000; year < 2020; ++year) {
    events.push_back(TradeEvent(absl::StrCat("t-", year), year,
                                1'000'000'000LL * (year - 1990),
                                absl::StrCat(year + 1, "-01-10T00:00:00Z")));
  }
  ASSERT_THAT(client_->Publish(Batch(events)), IsOk());
  const std::vector<v1::Alert> all = AllAlerts();
  ASSERT_THAT(all, SizeIs(20));

  v1::SubscribeRequest request;
  request.set_after_cursor(all[6].cursor());
  auto stream = Subscribe(request);
  ASSERT_NE(stream, nullptr);
  std::vector<v1::Alert> rest = ReadAlerts(*stream, 13);
  stream->Cancel();
  std::vector<std::string> expected;
  for (size_t i = 7; i < all.size(); ++i) expected.push_back(all[i].alert_id());
  EXPECT_EQ(AlertIds(rest), expected);
}

TEST_F(EndToEndTest, StartTimeDeliversAlertsCreatedAtOrAfterIt) {
  ASSERT_THAT(
      client_->Publish(Batch({PeaceEvent("p1", v1::PeaceTalkUpdate::PROPOSED,
                                         "2024-04-01T00:00:00Z")})),
      IsOk());
  const std::vector<v1::Alert> first = AllAlerts();
  ASSERT_THAT(first, SizeIs(1));
  // Commit times are distinct to the microsecond; start just after the
  // first alert's.
  google::protobuf::Timestamp after_first = first[0].created_at();
  after_first.set_nanos(after_first.nanos() + 1000);
  if (after_first.nanos() >= 1'000'000'000) {
    after_first.set_seconds(after_first.seconds() + 1);
    after_first.set_nanos(after_first.nanos() - 1'000'000'000);
  }
  absl::SleepFor(absl::Milliseconds(2));  // a later commit time for p2
  ASSERT_THAT(
      client_->Publish(Batch({PeaceEvent("p2", v1::PeaceTalkUpdate::SCHEDULED,
                                         "2024-04-02T00:00:00Z")})),
      IsOk());

  v1::SubscribeRequest request;
  *request.mutable_start_time() = first[0].created_at();
  auto stream = Subscribe(request);
  ASSERT_NE(stream, nullptr);
  EXPECT_THAT(AlertIds(ReadAlerts(*stream, 2)), SizeIs(2));
  stream->Cancel();

  *request.mutable_start_time() = after_first;
  stream = Subscribe(request);
  ASSERT_NE(stream, nullptr);
  std::vector<v1::Alert> later = ReadAlerts(*stream, 1);
  ASSERT_THAT(later, SizeIs(1));
  EXPECT_EQ(later[0].event().event_id(), "p2");
  stream->Cancel();
}

TEST_F(EndToEndTest, ReplayThenLiveHasNoGapOrDuplicateAtTheSeam) {
  // A publisher keeps publishing while a subscriber replays from EARLIEST;
  // the subscriber must see exactly the log, in order.
  constexpr int kEvents = 400;
  std::vector<v1::DiplomaticEvent> first;
  first.reserve(kEvents / 2);
  for (int i = 0; i < kEvents / 2; ++i) {
    first.push_back(PeaceEvent(absl::StrCat("seam-", i),
                               i % 2 == 0 ? v1::PeaceTalkUpdate::PROPOSED
                                          : v1::PeaceTalkUpdate::STALLED,
                               "2024-04-01T00:00:00Z"));
  }
  ASSERT_THAT(client_->Publish(Batch(first)), IsOk());

  v1::SubscribeRequest request;
  request.set_position(v1::SubscribeRequest::EARLIEST);
  auto stream = Subscribe(request);
  ASSERT_NE(stream, nullptr);
  std::thread publisher([this] {
    for (int i = kEvents / 2; i < kEvents; i += 10) {
      std::vector<v1::DiplomaticEvent> batch;
      for (int j = i; j < i + 10; ++j) {
        batch.push_back(PeaceEvent(absl::StrCat("seam-", j),
                                   j % 2 == 0 ? v1::PeaceTalkUpdate::PROPOSED
                                              : v1::PeaceTalkUpdate::STALLED,
                                   "2024-04-01T00:00:00Z"));
      }
      EXPECT_THAT(client_->Publish(Batch(batch)), IsOk());
    }
  });
  std::vector<v1::Alert> seen = ReadAlerts(*stream, kEvents);
  publisher.join();
  stream->Cancel();
  EXPECT_EQ(AlertIds(seen), AlertIds(AllAlerts()));
  EXPECT_THAT(seen, SizeIs(kEvents));
}

TEST_F(EndToEndTest, SubscriberFarBehindCatchesUpFromTheStore) {
  // More alerts than the server keeps in memory (2048): the first part is
  // served from SQLite a page at a time, the rest from the in-memory tail.
  constexpr int kEvents = 10'000;
  constexpr int kBatch = 500;
  for (int i = 0; i < kEvents; i += kBatch) {
    std::vector<v1::DiplomaticEvent> batch;
    for (int j = i; j < i + kBatch; ++j) {
      batch.push_back(PeaceEvent(absl::StrCat("bulk-", j),
                                 j % 2 == 0 ? v1::PeaceTalkUpdate::IN_PROGRESS
                                            : v1::PeaceTalkUpdate::STALLED,
                                 "2024-04-01T00:00:00Z"));
    }
    ASSERT_THAT(client_->Publish(Batch(batch)), IsOk());
  }
  v1::SubscribeRequest request;
  request.set_position(v1::SubscribeRequest::EARLIEST);
  auto stream = Subscribe(request);
  ASSERT_NE(stream, nullptr);
  std::vector<v1::Alert> seen;
  int responses = 0;
  while (seen.size() < static_cast<size_t>(kEvents)) {
    v1::SubscribeResponse response;
    auto next = stream->Next(&response, kStreamWait);
    ASSERT_THAT(next, IsOk());
    ASSERT_TRUE(*next);
    ++responses;
    EXPECT_LT(response.ByteSizeLong(), 1u << 20);
    seen.insert(seen.end(), response.alerts().begin(), response.alerts().end());
  }
  stream->Cancel();
  ASSERT_THAT(seen, SizeIs(kEvents));
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_EQ(seen[static_cast<size_t>(i)].event().event_id(),
              absl::StrCat("bulk-", i));
  }
  // Catching up comes in large responses, not one alert per message.
  EXPECT_LT(responses, kEvents / 10);
}

TEST_F(EndToEndTest, DuplicateReturnsTheOriginalSequenceAndAlerts) {
  auto first = client_->Publish(Batch({PeaceEvent(
      "p1", v1::PeaceTalkUpdate::PROPOSED, "2024-04-01T00:00:00Z")}));
  ASSERT_THAT(first, IsOk());
  auto again = client_->Publish(Batch(
      {PeaceEvent("p2", v1::PeaceTalkUpdate::AGREED, "2024-04-02T00:00:00Z"),
       PeaceEvent("p1", v1::PeaceTalkUpdate::PROPOSED,
                  "2024-04-01T00:00:00Z")}));
  ASSERT_THAT(again, IsOk());
  ASSERT_THAT(again->results(), SizeIs(2));
  EXPECT_EQ(again->results(0).outcome(), v1::PublishResult::ACCEPTED);
  const v1::PublishResult& dup = again->results(1);
  EXPECT_EQ(dup.outcome(), v1::PublishResult::DUPLICATE);
  EXPECT_EQ(dup.sequence(), first->results(0).sequence());
  EXPECT_THAT(dup.alert_ids(), ElementsAre(first->results(0).alert_ids(0)));
  EXPECT_THAT(AllAlerts(), SizeIs(2));
}

TEST_F(EndToEndTest, ChangedContentUnderAKnownIdFailsTheWholeBatch) {
  ASSERT_THAT(
      client_->Publish(Batch({PeaceEvent("p1", v1::PeaceTalkUpdate::PROPOSED,
                                         "2024-04-01T00:00:00Z")})),
      IsOk());
  auto changed = client_->Publish(Batch(
      {PeaceEvent("p2", v1::PeaceTalkUpdate::SCHEDULED, "2024-04-02T00:00:00Z"),
       PeaceEvent("p1", v1::PeaceTalkUpdate::AGREED, "2024-04-01T00:00:00Z")}));
  EXPECT_THAT(changed, StatusIs(absl::StatusCode::kAlreadyExists,
                                HasSubstr("events[1] (event_id \"p1\")")));
  v1::ListEventsRequest list;
  auto events = client_->ListEvents(list);
  ASSERT_THAT(events, IsOk());
  ASSERT_THAT(events->events(), SizeIs(1));  // p2 was not stored
  EXPECT_EQ(events->events(0).event_id(), "p1");
}

TEST_F(EndToEndTest, InvalidEventNamesIndexIdAndFieldAndStoresNothing) {
  v1::DiplomaticEvent bad =
      TradeEvent("t-bad", 2023, 1'000, "2024-01-12T00:00:00Z");
  bad.mutable_trade()->set_country_b("RU");
  auto result = client_->Publish(
      Batch({TradeEvent("t-ok", 2022, 1'000, "2023-01-13T00:00:00Z"), bad}));
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument,
                               ::testing::AllOf(
                                   HasSubstr("events[1]"), HasSubstr("t-bad"),
                                   HasSubstr("events[1].trade.country_b"))));
  auto events = client_->ListEvents(v1::ListEventsRequest());
  ASSERT_THAT(events, IsOk());
  EXPECT_THAT(events->events(), SizeIs(0));
}

TEST_F(EndToEndTest, SameEventIdTwiceInOneBatchIsInvalid) {
  auto result = client_->Publish(Batch(
      {PeaceEvent("p1", v1::PeaceTalkUpdate::PROPOSED, "2024-04-01T00:00:00Z"),
       PeaceEvent("p1", v1::PeaceTalkUpdate::PROPOSED,
                  "2024-04-01T00:00:00Z")}));
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("events[1]")));
}

TEST_F(EndToEndTest, BadFilterAndBadCursorAreInvalidArgument) {
  v1::SubscribeRequest request;
  request.set_filter("countries:CHN AND colour = red");
  auto stream = Subscribe(request);
  ASSERT_NE(stream, nullptr);
  v1::SubscribeResponse response;
  EXPECT_THAT(
      stream->Next(&response, kStreamWait),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("column 19")));

  v1::SubscribeRequest cursor;
  cursor.set_after_cursor("not-a-cursor");
  stream = Subscribe(cursor);
  ASSERT_NE(stream, nullptr);
  EXPECT_THAT(
      stream->Next(&response, kStreamWait),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("after_cursor")));

  v1::ListAlertsRequest list;
  list.set_filter("severity >= URGENT");
  EXPECT_THAT(
      client_->ListAlerts(list),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("column")));
}

TEST_F(EndToEndTest, PageTokensPageThroughHistoryAndAreBoundToTheFilter) {
  std::vector<v1::DiplomaticEvent> events;
  events.reserve(25);
  for (int i = 0; i < 25; ++i) {
    events.push_back(PeaceEvent(absl::StrCat("p", i),
                                i % 2 == 0 ? v1::PeaceTalkUpdate::PROPOSED
                                           : v1::PeaceTalkUpdate::AGREED,
                                "2024-04-01T00:00:00Z"));
  }
  ASSERT_THAT(client_->Publish(Batch(events)), IsOk());
  v1::ListAlertsRequest request;
  request.set_filter("severity = HIGH");
  request.set_page_size(5);
  std::vector<std::string> ids;
  for (int page = 0; page < 10; ++page) {
    auto response = client_->ListAlerts(request);
    ASSERT_THAT(response, IsOk());
    for (const auto& alert : response->alerts())
      ids.push_back(alert.alert_id());
    if (response->next_page_token().empty()) break;
    request.set_page_token(response->next_page_token());
    if (page == 0) {
      v1::ListAlertsRequest other = request;
      other.set_filter("severity = MEDIUM");
      EXPECT_THAT(client_->ListAlerts(other),
                  StatusIs(absl::StatusCode::kInvalidArgument,
                           HasSubstr("page_token")));
    }
  }
  EXPECT_EQ(ids, AlertIds(AllAlerts("severity = HIGH")));
  EXPECT_THAT(ids, SizeIs(12));

  v1::ListEventsRequest by_country;
  by_country.set_filter("countries:che AND kind = peace_talk");
  auto listed = client_->ListEvents(by_country);
  ASSERT_THAT(listed, IsOk());
  EXPECT_THAT(listed->events(), SizeIs(25));
  EXPECT_THAT(listed->sequences(), SizeIs(25));
}

TEST_F(EndToEndTest, LargeEventsPageWithinTheClientsMessageLimit) {
  // 24 events of ~200 KB: one page of all of them would be ~5 MB, over the
  // 4 MiB a gRPC client accepts by default. Pages stop short and go on.
  for (int batch = 0; batch < 6; ++batch) {
    std::vector<v1::DiplomaticEvent> events;
    events.reserve(4);
    for (int i = 0; i < 4; ++i) {
      v1::DiplomaticEvent event =
          PeaceEvent(absl::StrCat("big-", batch, "-", i),
                     (batch * 4 + i) % 2 == 0 ? v1::PeaceTalkUpdate::PROPOSED
                                              : v1::PeaceTalkUpdate::STALLED,
                     "2024-04-01T00:00:00Z");
      event.set_summary(std::string(200'000, 's'));
      events.push_back(std::move(event));
    }
    ASSERT_THAT(client_->Publish(Batch(events)), IsOk());
  }
  std::vector<v1::Alert> alerts = AllAlerts();
  EXPECT_THAT(alerts, SizeIs(24));
  v1::ListEventsRequest request;
  request.set_page_size(1000);
  size_t events = 0;
  for (int page = 0; page < 30; ++page) {
    auto response = client_->ListEvents(request);
    ASSERT_THAT(response, IsOk());
    EXPECT_LT(response->ByteSizeLong(), size_t{4} << 20);
    events += static_cast<size_t>(response->events_size());
    if (response->next_page_token().empty()) break;
    request.set_page_token(response->next_page_token());
  }
  EXPECT_EQ(events, 24U);

  // An event over the size limit is refused, naming it.
  v1::DiplomaticEvent huge =
      PeaceEvent("huge", v1::PeaceTalkUpdate::AGREED, "2024-04-01T00:00:00Z");
  huge.set_summary(std::string(300'000, 'h'));
  EXPECT_THAT(client_->Publish(Batch({huge})),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("events[0] (event_id \"huge\")")));
}

TEST_F(EndToEndTest, KillNineThenRestartServesIdenticalHistoryAndState) {
  auto published = client_->Publish(Batch(
      {TradeEvent("t-2022", 2022, 190'300'000'000, "2023-01-13T00:00:00Z"),
       TradeEvent("t-2023", 2023, 240'100'000'000, "2024-01-12T00:00:00Z"),
       PeaceEvent("p1", v1::PeaceTalkUpdate::PROPOSED,
                  "2024-04-01T00:00:00Z")}));
  ASSERT_THAT(published, IsOk());
  const std::vector<v1::Alert> before = AllAlerts();
  ASSERT_THAT(before, SizeIs(3));

  KillAndRestart();

  const std::vector<v1::Alert> after = AllAlerts();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(before[i], after[i]))
        << before[i].DebugString() << " vs " << after[i].DebugString();
  }
  // A retry after the crash is a duplicate with the original answer.
  auto retry = client_->Publish(Batch(
      {TradeEvent("t-2023", 2023, 240'100'000'000, "2024-01-12T00:00:00Z")}));
  ASSERT_THAT(retry, IsOk());
  EXPECT_EQ(retry->results(0).outcome(), v1::PublishResult::DUPLICATE);
  EXPECT_EQ(retry->results(0).sequence(), 2u);
  EXPECT_THAT(retry->results(0).alert_ids(), ElementsAre(before[1].alert_id()));

  // The engine's state is the one the log implies: 2024 below the 2023
  // record is an update, the peace process's known status is PROPOSED, and
  // new alerts continue the log's ids and cursors.
  auto more = client_->Publish(Batch(
      {TradeEvent("t-2024", 2024, 200'000'000'000, "2025-01-12T00:00:00Z"),
       PeaceEvent("p2", v1::PeaceTalkUpdate::PROPOSED, "2024-04-02T00:00:00Z"),
       PeaceEvent("p3", v1::PeaceTalkUpdate::AGREED, "2024-04-03T00:00:00Z")}));
  ASSERT_THAT(more, IsOk());
  EXPECT_EQ(more->results(0).sequence(), 4u);
  EXPECT_THAT(more->results(1).alert_ids(), SizeIs(0));  // same status
  const std::vector<v1::Alert> all = AllAlerts();
  ASSERT_THAT(all, SizeIs(5));
  EXPECT_EQ(all[3].type(), v1::Alert::TRADE_UPDATE);
  EXPECT_EQ(all[3].trade_change().previous_record_usd(), 240'100'000'000);
  EXPECT_EQ(all[4].peace_talk_change().previous_status(),
            v1::PeaceTalkUpdate::PROPOSED);

  // A cursor from before the crash resumes after it.
  v1::SubscribeRequest request;
  request.set_after_cursor(before[2].cursor());
  auto stream = Subscribe(request);
  ASSERT_NE(stream, nullptr);
  EXPECT_EQ(AlertIds(ReadAlerts(*stream, 2)),
            (std::vector<std::string>{all[3].alert_id(), all[4].alert_id()}));
  stream->Cancel();
}

TEST_F(EndToEndTest, SigtermEndsStreamsWithUnavailableAndExitsZero) {
  v1::SubscribeRequest request;
  request.mutable_heartbeat_interval()->set_seconds(1);
  auto stream = Subscribe(request);
  ASSERT_NE(stream, nullptr);
  AwaitHeartbeat(*stream);
  absl::StatusOr<int> exit_code = server_->Stop(SIGTERM, absl::Seconds(15));
  server_.reset();
  ASSERT_THAT(exit_code, IsOk());
  EXPECT_EQ(*exit_code, 0);
  v1::SubscribeResponse response;
  absl::StatusOr<bool> next = true;
  for (int i = 0; i < 5 && next.ok() && *next; ++i) {
    next = stream->Next(&response, kStreamWait);
  }
  EXPECT_THAT(next, StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(EndToEndTest,
       PublishStreamAnswersEachRequestInOrderAndGoesOnAfterErrors) {
  auto session = client_->PublishStream();
  ASSERT_THAT(session, IsOk());
  v1::DiplomaticEvent bad =
      TradeEvent("t-bad", 2023, 1'000, "2024-01-12T00:00:00Z");
  bad.mutable_trade()->set_year(1850);
  std::vector<v1::PublishRequest> requests = {
      Batch({TradeEvent("t-2022", 2022, 190'300'000'000,
                        "2023-01-13T00:00:00Z")}),
      Batch({bad}),
      Batch({TradeEvent("t-2022", 2022, 1, "2023-01-13T00:00:00Z")}),
  };
  // Many more behind them, in flight at once.
  for (int i = 0; i < 200; ++i) {
    std::vector<v1::DiplomaticEvent> events;
    events.reserve(5);
    for (int j = 0; j < 5; ++j) {
      events.push_back(PeaceEvent(absl::StrCat("s-", i, "-", j),
                                  v1::PeaceTalkUpdate::IN_PROGRESS,
                                  "2024-04-01T00:00:00Z"));
    }
    requests.push_back(Batch(events));
  }
  std::thread sender([&] {
    for (const auto& request : requests) {
      EXPECT_THAT((*session)->Send(request), IsOk());
    }
  });
  std::vector<v1::PublishResponse> responses;
  for (size_t i = 0; i < requests.size(); ++i) {
    v1::PublishResponse response;
    auto received = (*session)->Receive(&response);
    ASSERT_THAT(received, IsOk());
    ASSERT_TRUE(*received) << "stream ended after " << i << " responses";
    responses.push_back(response);
  }
  sender.join();
  EXPECT_THAT((*session)->Finish(), IsOk());

  EXPECT_EQ(responses[0].results(0).outcome(), v1::PublishResult::ACCEPTED);
  EXPECT_EQ(responses[1].error().code(),
            static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(responses[1].error().message(),
              HasSubstr("events[0].trade.year"));
  EXPECT_THAT(responses[1].results(), SizeIs(0));
  EXPECT_EQ(responses[2].error().code(),
            static_cast<int>(absl::StatusCode::kAlreadyExists));
  uint64_t sequence = responses[0].results(0).sequence();
  for (size_t i = 3; i < responses.size(); ++i) {
    ASSERT_FALSE(responses[i].has_error()) << i;
    ASSERT_THAT(responses[i].results(), SizeIs(5));
    EXPECT_EQ(responses[i].results(0).event_id(),
              absl::StrCat("s-", i - 3, "-0"));
    for (const auto& result : responses[i].results()) {
      EXPECT_EQ(result.sequence(), ++sequence);
    }
  }
  auto events = client_->ListEvents(v1::ListEventsRequest());
  ASSERT_THAT(events, IsOk());
  EXPECT_EQ(events->sequences(0), 1u);  // t-2022 as first published
}

// The seed demo through the real server yields exactly the alerts written
// next to it (deploy/demo/seed-article.expected), and a second run is all
// DUPLICATE with the same alerts.
TEST_F(EndToEndTest, SeedDemoYieldsTheAlertsWrittenNextToIt) {
  std::ifstream jsonl(DIPWIRE_SOURCE_DIR "/deploy/demo/seed-article.jsonl");
  ASSERT_TRUE(jsonl.is_open());
  v1::PublishRequest request;
  for (std::string line; std::getline(jsonl, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto event = ParseEventJson(line);
    ASSERT_THAT(event, IsOk()) << line;
    *request.add_events() = *std::move(event);
  }
  std::ifstream expected_file(DIPWIRE_SOURCE_DIR
                              "/deploy/demo/seed-article.expected");
  ASSERT_TRUE(expected_file.is_open());
  std::vector<std::string> expected;
  for (std::string line; std::getline(expected_file, line);) {
    if (!line.empty()) expected.push_back(line);
  }

  v1::SubscribeRequest subscribe;
  subscribe.set_position(v1::SubscribeRequest::EARLIEST);
  auto stream = Subscribe(subscribe);
  ASSERT_NE(stream, nullptr);
  auto published = client_->Publish(request);
  ASSERT_THAT(published, IsOk());
  std::vector<v1::Alert> live = ReadAlerts(*stream, expected.size());
  stream->Cancel();

  std::vector<std::string> actual;
  actual.reserve(live.size());
  for (const v1::Alert& alert : live) {
    actual.push_back(absl::StrCat(alert.event().event_id(), "\t",
                                  v1::Alert::Type_Name(alert.type()), "\t",
                                  v1::Alert::Severity_Name(alert.severity()),
                                  "\t", alert.headline()));
  }
  EXPECT_EQ(actual, expected);
  EXPECT_EQ(AlertIds(live), AlertIds(AllAlerts()));

  auto again = client_->Publish(request);
  ASSERT_THAT(again, IsOk());
  for (int i = 0; i < again->results_size(); ++i) {
    EXPECT_EQ(again->results(i).outcome(), v1::PublishResult::DUPLICATE);
    EXPECT_EQ(again->results(i).sequence(), published->results(i).sequence());
  }
  EXPECT_THAT(AllAlerts(), SizeIs(expected.size()));
}

TEST_F(EndToEndTest, SigintShutsDownCleanlyAndTheDataSurvives) {
  ASSERT_THAT(
      client_->Publish(Batch({PeaceEvent("p1", v1::PeaceTalkUpdate::PROPOSED,
                                         "2024-04-01T00:00:00Z")})),
      IsOk());
  client_.reset();
  absl::StatusOr<int> exit_code = server_->Stop(SIGINT, absl::Seconds(15));
  server_.reset();
  ASSERT_THAT(exit_code, IsOk());
  EXPECT_EQ(*exit_code, 0);
  StartServer();
  EXPECT_THAT(AllAlerts(), SizeIs(1));
}

}  // namespace
}  // namespace dipwire

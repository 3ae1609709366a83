#include "server/alert_engine.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dipwire/v1/alerts.pb.h"
#include "dipwire/v1/events.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace dipwire::server {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using v1::Alert;
using v1::DiplomaticEvent;
using v1::LeaderMeeting;
using v1::PeaceTalkUpdate;

// Events are written in the test bodies as proto JSON, where timestamps read
// as RFC 3339 ("2024-04-08T00:00:00Z").
DiplomaticEvent Event(absl::string_view json) {
  DiplomaticEvent event;
  EXPECT_EQ(
      google::protobuf::util::JsonStringToMessage(std::string(json), &event),
      google::protobuf::util::Status())
      << json;
  return event;
}

absl::Time CommitTime(uint64_t sequence) {
  return absl::FromUnixSeconds(1'712'000'000) +
         absl::Seconds(static_cast<int64_t>(sequence));
}

// Plumbing only: applies events in log order, numbering them 1, 2, ...
// and committing the n-th at CommitTime(n).
class AlertEngineTest : public ::testing::Test {
 protected:
  std::vector<Alert> Apply(const DiplomaticEvent& event) {
    ++sequence_;
    return engine_.Apply(LogEntry{sequence_, &event, CommitTime(sequence_)});
  }

 private:
  AlertEngine engine_;
  uint64_t sequence_ = 0;
};

// --- Meetings ---------------------------------------------------------------

TEST_F(AlertEngineTest, FirstReportOfMeetingIsNewMeeting) {
  const DiplomaticEvent lavrov_visit = Event(R"json({
    "eventId": "lavrov-beijing",
    "occurredAt": "2024-04-08T00:00:00Z",
    "reportedAt": "2024-04-05T09:00:00Z",
    "source": {"outlet": "Reuters"},
    "meeting": {
      "participants": [
        {"name": "Sergei Lavrov", "country": "RUS", "role": "FOREIGN_MINISTER"},
        {"name": "Wang Yi", "country": "CHN", "role": "FOREIGN_MINISTER"}],
      "hostCountry": "CHN", "city": "Beijing", "status": "SCHEDULED",
      "topics": ["Ukraine"]}})json");

  const std::vector<Alert> alerts = Apply(lavrov_visit);

  ASSERT_THAT(alerts, SizeIs(1));
  const Alert& alert = alerts[0];
  EXPECT_EQ(alert.alert_id(), "al-1-0");
  EXPECT_EQ(alert.cursor(), "");
  EXPECT_EQ(alert.type(), Alert::LEADER_MEETING_NEW);
  EXPECT_EQ(alert.severity(), Alert::MEDIUM);
  EXPECT_EQ(alert.headline(),
            "New meeting: Sergei Lavrov (RUS) and Wang Yi (CHN) in Beijing, "
            "scheduled 2024-04-08");
  EXPECT_THAT(alert.countries(), ElementsAre("CHN", "RUS"));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(alert.event(),
                                                                 lavrov_visit));
  EXPECT_EQ(alert.created_at().seconds(), absl::ToUnixSeconds(CommitTime(1)));
  EXPECT_EQ(alert.created_at().nanos(), 0);
  ASSERT_TRUE(alert.has_meeting_change());
  EXPECT_EQ(alert.meeting_change().status(), LeaderMeeting::SCHEDULED);
  EXPECT_EQ(alert.meeting_change().previous_status(),
            LeaderMeeting::STATUS_UNSPECIFIED);
}

TEST_F(AlertEngineTest, SeverityHighForHeadOfState) {
  const std::vector<Alert> alerts = Apply(Event(R"json({
    "eventId": "putin-xi", "occurredAt": "2024-05-15T00:00:00Z",
    "reportedAt": "2024-04-05T09:00:00Z", "source": {"outlet": "Reuters"},
    "meeting": {
      "participants": [
        {"name": "Vladimir Putin", "country": "RUS", "role": "HEAD_OF_STATE"},
        {"name": "Wang Yi", "country": "CHN", "role": "FOREIGN_MINISTER"}],
      "status": "EXPECTED"}})json"));

  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(alerts[0].severity(), Alert::HIGH);
}

TEST_F(AlertEngineTest, SeverityHighForHeadOfGovernment) {
  const std::vector<Alert> alerts = Apply(Event(R"json({
    "eventId": "li-meeting", "occurredAt": "2024-05-15T00:00:00Z",
    "reportedAt": "2024-04-05T09:00:00Z", "source": {"outlet": "Reuters"},
    "meeting": {
      "participants": [
        {"name": "Mikhail Mishustin", "country": "RUS",
         "role": "HEAD_OF_GOVERNMENT"},
        {"name": "Envoy", "country": "CHN"}],
      "status": "EXPECTED"}})json"));

  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(alerts[0].severity(), Alert::HIGH);
}

TEST_F(AlertEngineTest, NewMeetingHeadlineListsThreeAndFallsBackToHost) {
  const std::vector<Alert> in_host = Apply(Event(R"json({
    "eventId": "trilateral", "occurredAt": "2024-06-01T00:00:00Z",
    "reportedAt": "2024-05-20T00:00:00Z", "source": {"outlet": "AP"},
    "meeting": {
      "participants": [
        {"name": "A One", "country": "RUS"}, {"name": "B Two", "country": "CHN"},
        {"name": "C Three", "country": "IND"}],
      "hostCountry": "CHN", "status": "EXPECTED"}})json"));
  const std::vector<Alert> nowhere = Apply(Event(R"json({
    "eventId": "bilateral", "occurredAt": "2024-06-02T00:00:00Z",
    "reportedAt": "2024-05-20T00:00:00Z", "source": {"outlet": "AP"},
    "meeting": {
      "participants": [{"name": " A \n One ", "country": "RUS"},
                       {"name": "B Two", "country": "CHN"}],
      "status": "HELD"}})json"));

  ASSERT_THAT(in_host, SizeIs(1));
  EXPECT_EQ(in_host[0].headline(),
            "New meeting: A One (RUS), B Two (CHN) and C Three (IND) in CHN, "
            "expected 2024-06-01");
  EXPECT_THAT(in_host[0].countries(), ElementsAre("CHN", "IND", "RUS"));
  ASSERT_THAT(nowhere, SizeIs(1));
  EXPECT_EQ(nowhere[0].headline(),
            "New meeting: A One (RUS) and B Two (CHN), held 2024-06-02");
}

TEST_F(AlertEngineTest, MeetingUpdateShowsWhatChanged) {
  ASSERT_THAT(Apply(Event(R"json({
    "eventId": "putin-xi-1", "occurredAt": "2024-05-15T00:00:00Z",
    "reportedAt": "2024-04-05T09:00:00Z", "source": {"outlet": "Reuters"},
    "meeting": {
      "meetingId": "putin-xi-may-2024",
      "participants": [
        {"name": "Vladimir Putin", "country": "RUS", "role": "HEAD_OF_STATE"},
        {"name": "Xi Jinping", "country": "CHN", "role": "HEAD_OF_STATE"}],
      "hostCountry": "CHN", "city": "Beijing", "status": "EXPECTED"}})json")),
              SizeIs(1));

  const std::vector<Alert> alerts = Apply(Event(R"json({
    "eventId": "putin-xi-2", "occurredAt": "2024-05-16T08:00:00Z",
    "reportedAt": "2024-05-16T12:00:00Z", "source": {"outlet": "TASS"},
    "meeting": {
      "meetingId": "putin-xi-may-2024",
      "participants": [
        {"name": "Vladimir Putin", "country": "RUS", "role": "HEAD_OF_STATE"},
        {"name": "Xi Jinping", "country": "CHN", "role": "HEAD_OF_STATE"}],
      "hostCountry": "CHN", "city": "Beijing", "status": "HELD"}})json"));

  ASSERT_THAT(alerts, SizeIs(1));
  const Alert& alert = alerts[0];
  EXPECT_EQ(alert.alert_id(), "al-2-0");
  EXPECT_EQ(alert.type(), Alert::LEADER_MEETING_UPDATED);
  EXPECT_EQ(alert.severity(), Alert::HIGH);
  EXPECT_EQ(alert.headline(),
            "Meeting update: Vladimir Putin (RUS) and Xi Jinping (CHN) in "
            "Beijing now held 2024-05-16 (was expected 2024-05-15)");
  EXPECT_EQ(alert.event().event_id(), "putin-xi-2");
  const v1::MeetingChange& change = alert.meeting_change();
  EXPECT_EQ(change.previous_status(), LeaderMeeting::EXPECTED);
  EXPECT_EQ(change.status(), LeaderMeeting::HELD);
  EXPECT_EQ(change.previous_occurred_at().seconds(),
            absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(2024, 5, 15),
                                                absl::UTCTimeZone())));
  EXPECT_EQ(change.previous_city(), "Beijing");
}

TEST_F(AlertEngineTest, MeetingCityChangeIsAnUpdateNamingTheOldCity) {
  Apply(Event(R"json({
    "eventId": "m-1", "occurredAt": "2024-05-15T00:00:00Z",
    "reportedAt": "2024-05-01T00:00:00Z", "source": {"outlet": "Reuters"},
    "meeting": {"participants": [{"name": "A", "country": "RUS"},
                                 {"name": "B", "country": "CHN"}],
                "city": "Beijing", "status": "SCHEDULED"}})json"));

  const std::vector<Alert> alerts = Apply(Event(R"json({
    "eventId": "m-2", "occurredAt": "2024-05-15T00:00:00Z",
    "reportedAt": "2024-05-02T00:00:00Z", "source": {"outlet": "Reuters"},
    "meeting": {"participants": [{"name": "A", "country": "RUS"},
                                 {"name": "B", "country": "CHN"}],
                "city": "Harbin", "status": "SCHEDULED"}})json"));

  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(alerts[0].type(), Alert::LEADER_MEETING_UPDATED);
  EXPECT_EQ(alerts[0].headline(),
            "Meeting update: A (RUS) and B (CHN) in Harbin now scheduled "
            "2024-05-15 (was in Beijing)");
  EXPECT_EQ(alerts[0].meeting_change().previous_city(), "Beijing");
  EXPECT_EQ(alerts[0].meeting_change().previous_status(),
            LeaderMeeting::SCHEDULED);
}

TEST_F(AlertEngineTest, EmptyCityKeepsThePreviousCity) {
  Apply(Event(R"json({
    "eventId": "m-1", "occurredAt": "2024-05-15T00:00:00Z",
    "reportedAt": "2024-05-01T00:00:00Z", "source": {"outlet": "Reuters"},
    "meeting": {"participants": [{"name": "A", "country": "RUS"},
                                 {"name": "B", "country": "CHN"}],
                "city": "Beijing", "status": "SCHEDULED"}})json"));

  const std::vector<Alert> no_city = Apply(Event(R"json({
    "eventId": "m-2", "occurredAt": "2024-05-15T00:00:00Z",
    "reportedAt": "2024-05-02T00:00:00Z", "source": {"outlet": "AP"},
    "meeting": {"participants": [{"name": "A", "country": "RUS"},
                                 {"name": "B", "country": "CHN"}],
                "status": "SCHEDULED"}})json"));
  const std::vector<Alert> held = Apply(Event(R"json({
    "eventId": "m-3", "occurredAt": "2024-05-15T00:00:00Z",
    "reportedAt": "2024-05-15T18:00:00Z", "source": {"outlet": "AP"},
    "meeting": {"participants": [{"name": "A", "country": "RUS"},
                                 {"name": "B", "country": "CHN"}],
                "status": "HELD"}})json"));

  const std::vector<Alert> cancelled = Apply(Event(R"json({
    "eventId": "m-4", "occurredAt": "2024-05-15T00:00:00Z",
    "reportedAt": "2024-05-15T19:00:00Z", "source": {"outlet": "AP"},
    "meeting": {"participants": [{"name": "A", "country": "RUS"},
                                 {"name": "B", "country": "CHN"}],
                "status": "CANCELLED"}})json"));

  EXPECT_THAT(no_city, IsEmpty());
  ASSERT_THAT(held, SizeIs(1));
  EXPECT_EQ(held[0].headline(),
            "Meeting update: A (RUS) and B (CHN) in Beijing now held "
            "2024-05-15 (was scheduled)");
  EXPECT_EQ(held[0].meeting_change().previous_city(), "Beijing");
  ASSERT_THAT(cancelled, SizeIs(1));
  EXPECT_EQ(cancelled[0].meeting_change().previous_city(), "Beijing");
}

TEST_F(AlertEngineTest, IdenticalReReportYieldsNoAlert) {
  const DiplomaticEvent first = Event(R"json({
    "eventId": "m-1", "occurredAt": "2024-04-08T00:00:00Z",
    "reportedAt": "2024-04-05T09:00:00Z", "source": {"outlet": "Reuters"},
    "meeting": {"meetingId": "lavrov-visit",
                "participants": [{"name": "Sergei Lavrov", "country": "RUS"},
                                 {"name": "Wang Yi", "country": "CHN"}],
                "city": "Beijing", "status": "SCHEDULED"}})json");
  const DiplomaticEvent again = Event(R"json({
    "eventId": "m-2", "occurredAt": "2024-04-08T00:00:00Z",
    "reportedAt": "2024-04-06T09:00:00Z", "source": {"outlet": "Xinhua"},
    "summary": "Lavrov to visit Beijing",
    "meeting": {"meetingId": "lavrov-visit",
                "participants": [{"name": "Sergei Lavrov", "country": "RUS"},
                                 {"name": "Wang Yi", "country": "CHN"}],
                "city": "beijing", "status": "SCHEDULED"}})json");

  ASSERT_THAT(Apply(first), SizeIs(1));
  EXPECT_THAT(Apply(again), IsEmpty());
}

TEST_F(AlertEngineTest, StaleReportDoesNotMoveStatusBack) {
  ASSERT_THAT(Apply(Event(R"json({
    "eventId": "held", "occurredAt": "2024-05-16T00:00:00Z",
    "reportedAt": "2024-05-16T20:00:00Z", "source": {"outlet": "TASS"},
    "meeting": {"meetingId": "putin-xi",
                "participants": [{"name": "Vladimir Putin", "country": "RUS"},
                                 {"name": "Xi Jinping", "country": "CHN"}],
                "status": "HELD"}})json")),
              SizeIs(1));

  // A late-arriving report written before the meeting took place.
  const std::vector<Alert> stale = Apply(Event(R"json({
    "eventId": "expected", "occurredAt": "2024-05-15T00:00:00Z",
    "reportedAt": "2024-04-05T09:00:00Z", "source": {"outlet": "Reuters"},
    "meeting": {"meetingId": "putin-xi",
                "participants": [{"name": "Vladimir Putin", "country": "RUS"},
                                 {"name": "Xi Jinping", "country": "CHN"}],
                "status": "EXPECTED"}})json"));
  // Had the stale report been applied, this would be a change back to HELD.
  const std::vector<Alert> held_again = Apply(Event(R"json({
    "eventId": "held-again", "occurredAt": "2024-05-16T00:00:00Z",
    "reportedAt": "2024-05-17T08:00:00Z", "source": {"outlet": "AP"},
    "meeting": {"meetingId": "putin-xi",
                "participants": [{"name": "Vladimir Putin", "country": "RUS"},
                                 {"name": "Xi Jinping", "country": "CHN"}],
                "status": "HELD"}})json"));

  EXPECT_THAT(stale, IsEmpty());
  EXPECT_THAT(held_again, IsEmpty());
}

TEST_F(AlertEngineTest, ReportAsOldAsTheNewestIsNotStale) {
  Apply(Event(R"json({
    "eventId": "a", "occurredAt": "2024-05-16T00:00:00Z",
    "reportedAt": "2024-05-10T00:00:00Z", "source": {"outlet": "TASS"},
    "meeting": {"meetingId": "putin-xi",
                "participants": [{"name": "Vladimir Putin", "country": "RUS"},
                                 {"name": "Xi Jinping", "country": "CHN"}],
                "status": "SCHEDULED"}})json"));

  const std::vector<Alert> alerts = Apply(Event(R"json({
    "eventId": "b", "occurredAt": "2024-05-16T00:00:00Z",
    "reportedAt": "2024-05-10T00:00:00Z", "source": {"outlet": "AP"},
    "meeting": {"meetingId": "putin-xi",
                "participants": [{"name": "Vladimir Putin", "country": "RUS"},
                                 {"name": "Xi Jinping", "country": "CHN"}],
                "status": "POSTPONED"}})json"));

  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(alerts[0].meeting_change().status(), LeaderMeeting::POSTPONED);
}

TEST_F(AlertEngineTest, NamesCompareAfterFoldingCaseAndSpace) {
  ASSERT_THAT(Apply(Event(R"json({
    "eventId": "a", "occurredAt": "2024-04-08T00:00:00Z",
    "reportedAt": "2024-04-05T00:00:00Z", "source": {"outlet": "Reuters"},
    "meeting": {"participants": [{"name": "Sergei Lavrov", "country": "RUS"},
                                 {"name": "Wang Yi", "country": "CHN"}],
                "status": "SCHEDULED"}})json")),
              SizeIs(1));

  // Same people in another order and spelling, same UTC day.
  const std::vector<Alert> alerts = Apply(Event(R"json({
    "eventId": "b", "occurredAt": "2024-04-08T00:00:00Z",
    "reportedAt": "2024-04-06T00:00:00Z", "source": {"outlet": "Xinhua"},
    "meeting": {"participants": [{"name": "  WANG   yi ", "country": "CHN"},
                                 {"name": "sergei\tlavrov", "country": "RUS"}],
                "status": "SCHEDULED"}})json"));

  EXPECT_THAT(alerts, IsEmpty());
}

TEST_F(AlertEngineTest, MeetingWithoutIdNewDayIsNewMeeting) {
  ASSERT_THAT(Apply(Event(R"json({
    "eventId": "day-1", "occurredAt": "2024-04-08T09:00:00Z",
    "reportedAt": "2024-04-05T00:00:00Z", "source": {"outlet": "Reuters"},
    "meeting": {"participants": [{"name": "Sergei Lavrov", "country": "RUS"},
                                 {"name": "Wang Yi", "country": "CHN"}],
                "city": "Beijing", "status": "SCHEDULED"}})json")),
              SizeIs(1));

  const std::vector<Alert> next_day = Apply(Event(R"json({
    "eventId": "day-2", "occurredAt": "2024-04-09T09:00:00Z",
    "reportedAt": "2024-04-05T00:00:00Z", "source": {"outlet": "Reuters"},
    "meeting": {"participants": [{"name": "Sergei Lavrov", "country": "RUS"},
                                 {"name": "Wang Yi", "country": "CHN"}],
                "city": "Beijing", "status": "SCHEDULED"}})json"));

  ASSERT_THAT(next_day, SizeIs(1));
  EXPECT_EQ(next_day[0].type(), Alert::LEADER_MEETING_NEW);
}

TEST_F(AlertEngineTest, MeetingWithoutIdIgnoresTimeOfDay) {
  Apply(Event(R"json({
    "eventId": "morning", "occurredAt": "2024-04-08T09:00:00Z",
    "reportedAt": "2024-04-05T00:00:00Z", "source": {"outlet": "Reuters"},
    "meeting": {"participants": [{"name": "Sergei Lavrov", "country": "RUS"},
                                 {"name": "Wang Yi", "country": "CHN"}],
                "status": "SCHEDULED"}})json"));

  const std::vector<Alert> afternoon = Apply(Event(R"json({
    "eventId": "afternoon", "occurredAt": "2024-04-08T15:00:00Z",
    "reportedAt": "2024-04-06T00:00:00Z", "source": {"outlet": "TASS"},
    "meeting": {"participants": [{"name": "Sergei Lavrov", "country": "RUS"},
                                 {"name": "Wang Yi", "country": "CHN"}],
                "status": "SCHEDULED"}})json"));

  EXPECT_THAT(afternoon, IsEmpty());
}

TEST_F(AlertEngineTest, MeetingWithIdMovedWithinItsDayShowsTheTime) {
  Apply(Event(R"json({
    "eventId": "morning", "occurredAt": "2024-04-08T09:00:00Z",
    "reportedAt": "2024-04-05T00:00:00Z", "source": {"outlet": "Reuters"},
    "meeting": {"meetingId": "lavrov-wang",
                "participants": [{"name": "Sergei Lavrov", "country": "RUS"},
                                 {"name": "Wang Yi", "country": "CHN"}],
                "status": "SCHEDULED"}})json"));

  const std::vector<Alert> afternoon = Apply(Event(R"json({
    "eventId": "afternoon", "occurredAt": "2024-04-08T15:30:00Z",
    "reportedAt": "2024-04-06T00:00:00Z", "source": {"outlet": "TASS"},
    "meeting": {"meetingId": " Lavrov-Wang ",
                "participants": [{"name": "Sergei Lavrov", "country": "RUS"},
                                 {"name": "Wang Yi", "country": "CHN"}],
                "status": "SCHEDULED"}})json"));

  ASSERT_THAT(afternoon, SizeIs(1));
  EXPECT_EQ(afternoon[0].headline(),
            "Meeting update: Sergei Lavrov (RUS) and Wang Yi (CHN) now "
            "scheduled 2024-04-08 15:30 UTC (was 2024-04-08 09:00 UTC)");
}

// --- Trade ------------------------------------------------------------------

TEST_F(AlertEngineTest, TradeRecordNamesThePreviousHigh) {
  ASSERT_THAT(Apply(Event(R"json({
    "eventId": "cn-ru-2022", "occurredAt": "2023-01-13T00:00:00Z",
    "reportedAt": "2023-01-13T00:00:00Z", "source": {"outlet": "Reuters"},
    "trade": {"countryA": "CHN", "countryB": "RUS", "year": 2022,
              "valueUsd": "190271000000", "flow": "TOTAL",
              "reporter": "China customs"}})json")),
              SizeIs(1));

  const std::vector<Alert> alerts = Apply(Event(R"json({
    "eventId": "cn-ru-2023", "occurredAt": "2024-01-12T00:00:00Z",
    "reportedAt": "2024-01-12T00:00:00Z", "source": {"outlet": "Reuters"},
    "trade": {"countryA": "CHN", "countryB": "RUS", "year": 2023,
              "valueUsd": "240110000000", "flow": "TOTAL",
              "reporter": "China customs"}})json"));

  ASSERT_THAT(alerts, SizeIs(1));
  const Alert& alert = alerts[0];
  EXPECT_EQ(alert.alert_id(), "al-2-0");
  EXPECT_EQ(alert.type(), Alert::TRADE_RECORD);
  EXPECT_EQ(alert.severity(), Alert::HIGH);
  EXPECT_EQ(alert.headline(),
            "Trade record: CHN–RUS total trade $240.1B in 2023 (previous high "
            "$190.3B in 2022)");
  EXPECT_THAT(alert.countries(), ElementsAre("CHN", "RUS"));
  ASSERT_TRUE(alert.has_trade_change());
  EXPECT_EQ(alert.trade_change().previous_record_usd(), 190'271'000'000);
  EXPECT_EQ(alert.trade_change().previous_record_year(), 2022);
  EXPECT_EQ(alert.trade_change().previous_value_usd(), 0);
}

TEST_F(AlertEngineTest, FirstFigureIsUpdateNotRecord) {
  const std::vector<Alert> alerts = Apply(Event(R"json({
    "eventId": "cn-us-2022", "occurredAt": "2023-01-13T00:00:00Z",
    "reportedAt": "2023-01-13T00:00:00Z", "source": {"outlet": "Reuters"},
    "trade": {"countryA": "USA", "countryB": "CHN", "year": 2022,
              "valueUsd": "690600000000", "flow": "TOTAL",
              "reporter": "US Census Bureau"}})json"));

  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(alerts[0].type(), Alert::TRADE_UPDATE);
  EXPECT_EQ(alerts[0].severity(), Alert::LOW);
  EXPECT_EQ(alerts[0].headline(),
            "Trade update: CHN–USA total trade $690.6B in 2022");
  ASSERT_TRUE(alerts[0].has_trade_change());
  EXPECT_EQ(alerts[0].trade_change().previous_record_usd(), 0);
  EXPECT_EQ(alerts[0].trade_change().previous_record_year(), 0);
  EXPECT_EQ(alerts[0].trade_change().previous_value_usd(), 0);
}

TEST_F(AlertEngineTest, NewYearBelowTheHighIsUpdateNamingTheHigh) {
  Apply(Event(R"json({
    "eventId": "2022", "occurredAt": "2023-01-13T00:00:00Z",
    "reportedAt": "2023-01-13T00:00:00Z", "source": {"outlet": "Reuters"},
    "trade": {"countryA": "CHN", "countryB": "USA", "year": 2022,
              "valueUsd": "690600000000", "flow": "TOTAL",
              "reporter": "China customs"}})json"));

  const std::vector<Alert> alerts = Apply(Event(R"json({
    "eventId": "2023", "occurredAt": "2024-01-12T00:00:00Z",
    "reportedAt": "2024-01-12T00:00:00Z", "source": {"outlet": "Reuters"},
    "trade": {"countryA": "CHN", "countryB": "USA", "year": 2023,
              "valueUsd": "664500000000", "flow": "TOTAL",
              "reporter": "China customs"}})json"));

  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(alerts[0].type(), Alert::TRADE_UPDATE);
  EXPECT_EQ(alerts[0].headline(),
            "Trade update: CHN–USA total trade $664.5B in 2023 (high $690.6B "
            "in 2022)");
  EXPECT_EQ(alerts[0].trade_change().previous_record_usd(), 690'600'000'000);
  EXPECT_EQ(alerts[0].trade_change().previous_record_year(), 2022);
  EXPECT_EQ(alerts[0].trade_change().previous_value_usd(), 0);
}

TEST_F(AlertEngineTest, RevisedYearReplacesValue) {
  Apply(Event(R"json({
    "eventId": "2022", "occurredAt": "2023-01-13T00:00:00Z",
    "reportedAt": "2023-01-13T00:00:00Z", "source": {"outlet": "Reuters"},
    "trade": {"countryA": "CHN", "countryB": "USA", "year": 2022,
              "valueUsd": "600000000000", "flow": "TOTAL",
              "reporter": "China customs"}})json"));
  Apply(Event(R"json({
    "eventId": "2023", "occurredAt": "2024-01-12T00:00:00Z",
    "reportedAt": "2024-01-12T00:00:00Z", "source": {"outlet": "Reuters"},
    "trade": {"countryA": "CHN", "countryB": "USA", "year": 2023,
              "valueUsd": "690600000000", "flow": "TOTAL",
              "reporter": "China customs"}})json"));

  const std::vector<Alert> revision = Apply(Event(R"json({
    "eventId": "2023-revised", "occurredAt": "2024-03-01T00:00:00Z",
    "reportedAt": "2024-03-01T00:00:00Z", "source": {"outlet": "Reuters"},
    "trade": {"countryA": "CHN", "countryB": "USA", "year": 2023,
              "valueUsd": "664500000000", "flow": "TOTAL",
              "reporter": "China customs"}})json"));
  // The series now holds 600 (2022) and 664.5 (2023): 670 is a record only
  // because the revision replaced 690.6.
  const std::vector<Alert> next_year = Apply(Event(R"json({
    "eventId": "2024", "occurredAt": "2025-01-12T00:00:00Z",
    "reportedAt": "2025-01-12T00:00:00Z", "source": {"outlet": "Reuters"},
    "trade": {"countryA": "CHN", "countryB": "USA", "year": 2024,
              "valueUsd": "670000000000", "flow": "TOTAL",
              "reporter": "China customs"}})json"));

  ASSERT_THAT(revision, SizeIs(1));
  EXPECT_EQ(revision[0].type(), Alert::TRADE_UPDATE);
  EXPECT_EQ(revision[0].headline(),
            "Trade update: CHN–USA total trade $664.5B in 2023 (was $690.6B)");
  EXPECT_EQ(revision[0].trade_change().previous_value_usd(), 690'600'000'000);
  EXPECT_EQ(revision[0].trade_change().previous_record_usd(), 690'600'000'000);
  EXPECT_EQ(revision[0].trade_change().previous_record_year(), 2023);
  ASSERT_THAT(next_year, SizeIs(1));
  EXPECT_EQ(next_year[0].type(), Alert::TRADE_RECORD);
  EXPECT_EQ(next_year[0].trade_change().previous_record_usd(), 664'500'000'000);
  EXPECT_EQ(next_year[0].trade_change().previous_record_year(), 2023);
}

TEST_F(AlertEngineTest, RevisionAboveEveryEarlierFigureIsRecord) {
  Apply(Event(R"json({
    "eventId": "first", "occurredAt": "2024-01-12T00:00:00Z",
    "reportedAt": "2024-01-12T00:00:00Z", "source": {"outlet": "Reuters"},
    "trade": {"countryA": "CHN", "countryB": "RUS", "year": 2023,
              "valueUsd": "240110000000", "flow": "TOTAL",
              "reporter": "China customs"}})json"));

  const std::vector<Alert> alerts = Apply(Event(R"json({
    "eventId": "revised", "occurredAt": "2024-03-01T00:00:00Z",
    "reportedAt": "2024-03-01T00:00:00Z", "source": {"outlet": "Reuters"},
    "trade": {"countryA": "CHN", "countryB": "RUS", "year": 2023,
              "valueUsd": "244800000000", "flow": "TOTAL",
              "reporter": "China customs"}})json"));

  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(alerts[0].type(), Alert::TRADE_RECORD);
  EXPECT_EQ(alerts[0].headline(),
            "Trade record: CHN–RUS total trade $244.8B in 2023 (previous high "
            "$240.1B in 2023)");
  EXPECT_EQ(alerts[0].trade_change().previous_record_usd(), 240'110'000'000);
  EXPECT_EQ(alerts[0].trade_change().previous_record_year(), 2023);
  EXPECT_EQ(alerts[0].trade_change().previous_value_usd(), 240'110'000'000);
}

TEST_F(AlertEngineTest, SameTradeValueAgainYieldsNothing) {
  const DiplomaticEvent figure = Event(R"json({
    "eventId": "a", "occurredAt": "2024-01-12T00:00:00Z",
    "reportedAt": "2024-01-12T00:00:00Z", "source": {"outlet": "Reuters"},
    "trade": {"countryA": "CHN", "countryB": "RUS", "year": 2023,
              "valueUsd": "240110000000", "flow": "TOTAL",
              "reporter": "China customs"}})json");
  DiplomaticEvent again = figure;
  again.set_event_id("b");
  again.mutable_source()->set_outlet("AP");

  ASSERT_THAT(Apply(figure), SizeIs(1));
  EXPECT_THAT(Apply(again), IsEmpty());
}

TEST_F(AlertEngineTest, TradePairIsUnordered) {
  Apply(Event(R"json({
    "eventId": "2022", "occurredAt": "2023-01-13T00:00:00Z",
    "reportedAt": "2023-01-13T00:00:00Z", "source": {"outlet": "Reuters"},
    "trade": {"countryA": "CHN", "countryB": "RUS", "year": 2022,
              "valueUsd": "190271000000", "flow": "TOTAL",
              "reporter": "China customs"}})json"));

  const std::vector<Alert> alerts = Apply(Event(R"json({
    "eventId": "2023", "occurredAt": "2024-01-12T00:00:00Z",
    "reportedAt": "2024-01-12T00:00:00Z", "source": {"outlet": "Reuters"},
    "trade": {"countryA": "RUS", "countryB": "CHN", "year": 2023,
              "valueUsd": "240110000000", "flow": "TOTAL",
              "reporter": "China customs"}})json"));

  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(alerts[0].type(), Alert::TRADE_RECORD);
  EXPECT_EQ(alerts[0].headline(),
            "Trade record: CHN–RUS total trade $240.1B in 2023 (previous high "
            "$190.3B in 2022)");
}

TEST_F(AlertEngineTest, SeparateSeriesPerReporter) {
  Apply(Event(R"json({
    "eventId": "cn", "occurredAt": "2024-01-12T00:00:00Z",
    "reportedAt": "2024-01-12T00:00:00Z", "source": {"outlet": "Reuters"},
    "trade": {"countryA": "CHN", "countryB": "RUS", "year": 2022,
              "valueUsd": "190271000000", "flow": "TOTAL",
              "reporter": "China customs"}})json"));

  const std::vector<Alert> other_reporter = Apply(Event(R"json({
    "eventId": "ru", "occurredAt": "2024-01-12T00:00:00Z",
    "reportedAt": "2024-01-12T00:00:00Z", "source": {"outlet": "TASS"},
    "trade": {"countryA": "CHN", "countryB": "RUS", "year": 2023,
              "valueUsd": "228000000000", "flow": "TOTAL",
              "reporter": "Russian customs"}})json"));
  const std::vector<Alert> same_reporter_respelled = Apply(Event(R"json({
    "eventId": "cn-2023", "occurredAt": "2024-01-12T00:00:00Z",
    "reportedAt": "2024-01-12T00:00:00Z", "source": {"outlet": "Reuters"},
    "trade": {"countryA": "CHN", "countryB": "RUS", "year": 2023,
              "valueUsd": "240110000000", "flow": "TOTAL",
              "reporter": " CHINA   Customs"}})json"));

  ASSERT_THAT(other_reporter, SizeIs(1));
  EXPECT_EQ(other_reporter[0].type(), Alert::TRADE_UPDATE);
  ASSERT_THAT(same_reporter_respelled, SizeIs(1));
  EXPECT_EQ(same_reporter_respelled[0].type(), Alert::TRADE_RECORD);
  EXPECT_EQ(same_reporter_respelled[0].trade_change().previous_record_usd(),
            190'271'000'000);
}

TEST_F(AlertEngineTest, DirectionalFlowsKeepTheEventsOrder) {
  const std::vector<Alert> exports = Apply(Event(R"json({
    "eventId": "exports", "occurredAt": "2024-01-12T00:00:00Z",
    "reportedAt": "2024-01-12T00:00:00Z", "source": {"outlet": "Reuters"},
    "trade": {"countryA": "RUS", "countryB": "CHN", "year": 2023,
              "valueUsd": "129000000000", "flow": "EXPORTS",
              "reporter": "China customs"}})json"));
  const std::vector<Alert> imports = Apply(Event(R"json({
    "eventId": "imports", "occurredAt": "2024-01-12T00:00:00Z",
    "reportedAt": "2024-01-12T00:00:00Z", "source": {"outlet": "Reuters"},
    "trade": {"countryA": "CHN", "countryB": "RUS", "year": 2023,
              "valueUsd": "129000000000", "flow": "IMPORTS",
              "reporter": "China customs"}})json"));
  // CHN's exports to RUS are another quantity than RUS's exports to CHN:
  // not a revision of the figure above.
  const std::vector<Alert> other_direction = Apply(Event(R"json({
    "eventId": "exports-back", "occurredAt": "2024-01-12T00:00:00Z",
    "reportedAt": "2024-01-12T00:00:00Z", "source": {"outlet": "Reuters"},
    "trade": {"countryA": "CHN", "countryB": "RUS", "year": 2023,
              "valueUsd": "110000000000", "flow": "EXPORTS",
              "reporter": "China customs"}})json"));

  ASSERT_THAT(exports, SizeIs(1));
  EXPECT_EQ(exports[0].headline(),
            "Trade update: RUS exports to CHN $129.0B in 2023");
  ASSERT_THAT(imports, SizeIs(1));
  EXPECT_EQ(imports[0].headline(),
            "Trade update: CHN imports from RUS $129.0B in 2023");
  ASSERT_THAT(other_direction, SizeIs(1));
  EXPECT_EQ(other_direction[0].headline(),
            "Trade update: CHN exports to RUS $110.0B in 2023");
  EXPECT_EQ(other_direction[0].trade_change().previous_value_usd(), 0);
}

TEST_F(AlertEngineTest, StaleTradeFigureIsIgnored) {
  Apply(Event(R"json({
    "eventId": "final", "occurredAt": "2024-03-01T00:00:00Z",
    "reportedAt": "2024-03-01T00:00:00Z", "source": {"outlet": "Reuters"},
    "trade": {"countryA": "CHN", "countryB": "RUS", "year": 2023,
              "valueUsd": "240110000000", "flow": "TOTAL",
              "reporter": "China customs"}})json"));

  const std::vector<Alert> preliminary = Apply(Event(R"json({
    "eventId": "preliminary", "occurredAt": "2024-01-12T00:00:00Z",
    "reportedAt": "2024-01-12T00:00:00Z", "source": {"outlet": "Reuters"},
    "trade": {"countryA": "CHN", "countryB": "RUS", "year": 2023,
              "valueUsd": "250000000000", "flow": "TOTAL",
              "reporter": "China customs"}})json"));
  // Had the stale figure replaced 2023, this would be an update, not a record.
  const std::vector<Alert> next_year = Apply(Event(R"json({
    "eventId": "2024", "occurredAt": "2025-01-12T00:00:00Z",
    "reportedAt": "2025-01-12T00:00:00Z", "source": {"outlet": "Reuters"},
    "trade": {"countryA": "CHN", "countryB": "RUS", "year": 2024,
              "valueUsd": "245000000000", "flow": "TOTAL",
              "reporter": "China customs"}})json"));

  EXPECT_THAT(preliminary, IsEmpty());
  ASSERT_THAT(next_year, SizeIs(1));
  EXPECT_EQ(next_year[0].type(), Alert::TRADE_RECORD);
}

TEST_F(AlertEngineTest, AmountsHaveOneDecimalAndAUnit) {
  std::vector<std::string> headlines;
  int year = 2000;
  for (const int64_t value :
       {500, 12'345, 999'949, 999'950, 950'000'000, 999'950'000}) {
    DiplomaticEvent figure = Event(R"json({
      "eventId": "x", "occurredAt": "2024-01-12T00:00:00Z",
      "reportedAt": "2024-01-12T00:00:00Z", "source": {"outlet": "Reuters"},
      "trade": {"countryA": "CHN", "countryB": "RUS", "flow": "TOTAL",
                "reporter": "test"}})json");
    figure.mutable_trade()->set_year(year++);
    figure.mutable_trade()->set_value_usd(value);
    for (const Alert& alert : Apply(figure)) {
      headlines.push_back(alert.headline());
    }
  }

  EXPECT_THAT(
      headlines,
      ElementsAre(
          "Trade update: CHN–RUS total trade $500 in 2000",
          "Trade record: CHN–RUS total trade $12.3K in 2001 (previous high "
          "$500 in 2000)",
          "Trade record: CHN–RUS total trade $999.9K in 2002 (previous high "
          "$12.3K in 2001)",
          "Trade record: CHN–RUS total trade $1.0M in 2003 (previous high "
          "$999.9K in 2002)",
          "Trade record: CHN–RUS total trade $950.0M in 2004 (previous high "
          "$1.0M in 2003)",
          "Trade record: CHN–RUS total trade $1.0B in 2005 (previous high "
          "$950.0M in 2004)"));
}

// --- Peace talks ------------------------------------------------------------

TEST_F(AlertEngineTest, FirstPeaceTalkStatusIsAChange) {
  const std::vector<Alert> alerts = Apply(Event(R"json({
    "eventId": "summit", "occurredAt": "2024-06-15T00:00:00Z",
    "reportedAt": "2024-04-05T00:00:00Z", "source": {"outlet": "Reuters"},
    "peaceTalk": {"processId": "ukraine-peace-summit",
                  "title": "Ukraine peace summit", "status": "SCHEDULED",
                  "parties": ["UKR"], "venueCountry": "CHE"}})json"));

  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(alerts[0].type(), Alert::PEACE_TALK_STATUS_CHANGED);
  EXPECT_EQ(alerts[0].severity(), Alert::MEDIUM);
  EXPECT_EQ(alerts[0].headline(),
            "Peace talks: Ukraine peace summit (CHE) scheduled");
  EXPECT_THAT(alerts[0].countries(), ElementsAre("CHE", "UKR"));
  ASSERT_TRUE(alerts[0].has_peace_talk_change());
  EXPECT_EQ(alerts[0].peace_talk_change().previous_status(),
            PeaceTalkUpdate::STATUS_UNSPECIFIED);
  EXPECT_EQ(alerts[0].peace_talk_change().status(), PeaceTalkUpdate::SCHEDULED);
}

TEST_F(AlertEngineTest, PeaceTalkRejectionIsHighAndNamesThePreviousStatus) {
  Apply(Event(R"json({
    "eventId": "proposal", "occurredAt": "2024-03-01T00:00:00Z",
    "reportedAt": "2024-03-01T00:00:00Z", "source": {"outlet": "Reuters"},
    "peaceTalk": {"processId": "putin-ceasefire", "status": "PROPOSED",
                  "parties": ["RUS", "UKR"]}})json"));

  const std::vector<Alert> alerts = Apply(Event(R"json({
    "eventId": "rejection", "occurredAt": "2024-03-02T00:00:00Z",
    "reportedAt": "2024-03-02T00:00:00Z", "source": {"outlet": "Reuters"},
    "peaceTalk": {"processId": "Putin-Ceasefire ", "status": "REJECTED",
                  "parties": ["RUS", "UKR"]}})json"));

  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(alerts[0].severity(), Alert::HIGH);
  EXPECT_EQ(alerts[0].headline(),
            "Peace talks: Putin-Ceasefire now rejected (was proposed)");
  EXPECT_EQ(alerts[0].peace_talk_change().previous_status(),
            PeaceTalkUpdate::PROPOSED);
  EXPECT_EQ(alerts[0].peace_talk_change().status(), PeaceTalkUpdate::REJECTED);
}

TEST_F(AlertEngineTest, PeaceTalkSameStatusYieldsNothing) {
  const DiplomaticEvent scheduled = Event(R"json({
    "eventId": "a", "occurredAt": "2024-06-15T00:00:00Z",
    "reportedAt": "2024-04-05T00:00:00Z", "source": {"outlet": "Reuters"},
    "peaceTalk": {"processId": "ukraine-peace-summit",
                  "status": "SCHEDULED"}})json");
  DiplomaticEvent again = scheduled;
  again.set_event_id("b");
  again.mutable_peace_talk()->set_detail("Bürgenstock, 15-16 June");

  ASSERT_THAT(Apply(scheduled), SizeIs(1));
  EXPECT_THAT(Apply(again), IsEmpty());
}

TEST_F(AlertEngineTest, StalePeaceTalkReportDoesNotMoveStatusBack) {
  Apply(Event(R"json({
    "eventId": "collapsed", "occurredAt": "2024-07-01T00:00:00Z",
    "reportedAt": "2024-07-01T00:00:00Z", "source": {"outlet": "Reuters"},
    "peaceTalk": {"processId": "talks", "status": "COLLAPSED"}})json"));

  const std::vector<Alert> stale = Apply(Event(R"json({
    "eventId": "in-progress", "occurredAt": "2024-06-20T00:00:00Z",
    "reportedAt": "2024-06-20T00:00:00Z", "source": {"outlet": "AP"},
    "peaceTalk": {"processId": "talks", "status": "IN_PROGRESS"}})json"));
  const std::vector<Alert> collapsed_again = Apply(Event(R"json({
    "eventId": "collapsed-2", "occurredAt": "2024-07-02T00:00:00Z",
    "reportedAt": "2024-07-02T00:00:00Z", "source": {"outlet": "AP"},
    "peaceTalk": {"processId": "talks", "status": "COLLAPSED"}})json"));

  EXPECT_THAT(stale, IsEmpty());
  EXPECT_THAT(collapsed_again, IsEmpty());
}

// --- The engine -------------------------------------------------------------

TEST_F(AlertEngineTest, AlertIdNamesSequenceAndIndex) {
  EXPECT_EQ(AlertEngine::AlertId(12, 0), "al-12-0");
  EXPECT_EQ(AlertEngine::AlertId(18'446'744'073'709'551'615U, 3),
            "al-18446744073709551615-3");
}

TEST_F(AlertEngineTest, EventWithoutKindYieldsNothing) {
  EXPECT_THAT(Apply(Event(R"json({
    "eventId": "nothing", "occurredAt": "2024-06-15T00:00:00Z",
    "reportedAt": "2024-04-05T00:00:00Z", "source": {"outlet": "Reuters"}
  })json")),
              IsEmpty());
}

TEST_F(AlertEngineTest, ReplayYieldsSameAlertIds) {
  const std::vector<DiplomaticEvent> log = {
      Event(R"json({
        "eventId": "e1", "occurredAt": "2024-04-08T00:00:00Z",
        "reportedAt": "2024-04-05T00:00:00Z", "source": {"outlet": "Reuters"},
        "meeting": {"participants": [{"name": "Sergei Lavrov", "country": "RUS"},
                                     {"name": "Wang Yi", "country": "CHN"}],
                    "city": "Beijing", "status": "SCHEDULED"}})json"),
      Event(R"json({
        "eventId": "e2", "occurredAt": "2024-01-12T00:00:00Z",
        "reportedAt": "2024-01-12T00:00:00Z", "source": {"outlet": "Reuters"},
        "trade": {"countryA": "CHN", "countryB": "RUS", "year": 2022,
                  "valueUsd": "190271000000", "flow": "TOTAL",
                  "reporter": "China customs"}})json"),
      Event(R"json({
        "eventId": "e3", "occurredAt": "2024-06-15T00:00:00Z",
        "reportedAt": "2024-04-05T00:00:00Z", "source": {"outlet": "Reuters"},
        "peaceTalk": {"processId": "summit", "status": "SCHEDULED"}})json"),
      Event(R"json({
        "eventId": "e4", "occurredAt": "2024-01-12T00:00:00Z",
        "reportedAt": "2024-01-12T00:00:00Z", "source": {"outlet": "Reuters"},
        "trade": {"countryA": "RUS", "countryB": "CHN", "year": 2023,
                  "valueUsd": "240110000000", "flow": "TOTAL",
                  "reporter": "China customs"}})json"),
      Event(R"json({
        "eventId": "e5", "occurredAt": "2024-04-08T00:00:00Z",
        "reportedAt": "2024-04-09T00:00:00Z", "source": {"outlet": "TASS"},
        "meeting": {"participants": [{"name": "Wang Yi", "country": "CHN"},
                                     {"name": "Sergei Lavrov", "country": "RUS"}],
                    "city": "Beijing", "status": "HELD"}})json"),
  };
  auto run = [&log] {
    AlertEngine engine;
    std::vector<std::string> serialized;
    uint64_t sequence = 0;
    for (const DiplomaticEvent& event : log) {
      ++sequence;
      for (const Alert& alert :
           engine.Apply(LogEntry{sequence, &event, CommitTime(sequence)})) {
        serialized.push_back(alert.SerializeAsString());
      }
    }
    return serialized;
  };

  const std::vector<std::string> first = run();
  const std::vector<std::string> second = run();

  ASSERT_THAT(first, SizeIs(5));
  EXPECT_EQ(first, second);
  Alert last;
  ASSERT_TRUE(last.ParseFromString(first.back()));
  EXPECT_EQ(last.alert_id(), "al-5-0");
  EXPECT_EQ(last.type(), Alert::LEADER_MEETING_UPDATED);
}

}  // namespace
}  // namespace dipwire::server

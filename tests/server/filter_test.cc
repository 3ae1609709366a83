#include "server/filter.h"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "dipwire/v1/alerts.pb.h"
#include "dipwire/v1/events.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

// Counts heap allocations while enabled, to check that evaluation does not
// allocate. Replacing the global operators is allowed in a program (and this
// test binary is one).
namespace {
std::atomic<bool> count_allocations{false};
std::atomic<int64_t> allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  if (count_allocations.load(std::memory_order_relaxed)) {
    allocations.fetch_add(1, std::memory_order_relaxed);
  }
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) std::abort();  // We build without exceptions in mind.
  return p;
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t /*size*/) noexcept { std::free(p); }

namespace dipwire::server {
namespace {

using ::dipwire::testing::IsOk;
using ::dipwire::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Fixtures build plain messages; each test sets the fields it is about.

v1::DiplomaticEvent MeetingEvent() {
  v1::DiplomaticEvent event;
  event.set_event_id("evt-meeting-1");
  event.mutable_source()->set_outlet("Reuters");
  v1::LeaderMeeting* meeting = event.mutable_meeting();
  v1::Actor* wang = meeting->add_participants();
  wang->set_name("Wang Yi");
  wang->set_country("CHN");
  v1::Actor* lavrov = meeting->add_participants();
  lavrov->set_name("Sergei Lavrov");
  lavrov->set_country("RUS");
  meeting->set_host_country("KAZ");
  meeting->set_status(v1::LeaderMeeting::HELD);
  meeting->add_topics("energy");
  meeting->add_topics("Security");
  return event;
}

v1::DiplomaticEvent TradeEvent() {
  v1::DiplomaticEvent event;
  event.set_event_id("evt-trade-1");
  event.mutable_source()->set_outlet("Xinhua");
  v1::TradeFigure* trade = event.mutable_trade();
  trade->set_country_a("CHN");
  trade->set_country_b("RUS");
  trade->set_year(2024);
  trade->set_value_usd(240'000'000'000);
  trade->set_flow(v1::TradeFigure::TOTAL);
  trade->set_reporter("China customs");
  return event;
}

v1::DiplomaticEvent PeaceTalkEvent() {
  v1::DiplomaticEvent event;
  event.set_event_id("evt-peace-1");
  event.mutable_source()->set_outlet("AP");
  v1::PeaceTalkUpdate* talk = event.mutable_peace_talk();
  talk->set_process_id("ukraine-russia-2025");
  talk->set_status(v1::PeaceTalkUpdate::IN_PROGRESS);
  talk->add_parties("UKR");
  talk->add_parties("RUS");
  talk->set_venue_country("TUR");
  return event;
}

v1::Alert MakeAlert(v1::Alert::Type type, v1::Alert::Severity severity,
                    std::initializer_list<const char*> countries) {
  v1::Alert alert;
  alert.set_alert_id("alert-1");
  alert.set_type(type);
  alert.set_severity(severity);
  for (const char* country : countries) alert.add_countries(country);
  return alert;
}

Filter MustCompile(absl::string_view text,
                   FilterTarget target = FilterTarget::kAlert) {
  absl::StatusOr<Filter> filter = Filter::Compile(text, target);
  EXPECT_THAT(filter, IsOk()) << text;
  return filter.ok() ? *filter : Filter();
}

bool AlertMatches(absl::string_view text, const v1::Alert& alert) {
  return MustCompile(text, FilterTarget::kAlert).Matches(alert);
}

bool EventMatches(absl::string_view text, const v1::DiplomaticEvent& event) {
  return MustCompile(text, FilterTarget::kEvent).Matches(event);
}

// INVALID_ARGUMENT whose message starts "filter: column <column>: " and
// contains `text`.
::testing::Matcher<absl::Status> ErrorAt(int column, const std::string& text) {
  return StatusIs(
      absl::StatusCode::kInvalidArgument,
      AllOf(StartsWith(absl::StrCat("filter: column ", column, ": ")),
            HasSubstr(text)));
}

absl::Status CompileError(absl::string_view text,
                          FilterTarget target = FilterTarget::kAlert) {
  return Filter::Compile(text, target).status();
}

// ---------------------------------------------------------------------------
// DESIGN.md's examples

TEST(FilterTest, TypeEqualsMatchesOnlyThatType) {
  const v1::Alert record =
      MakeAlert(v1::Alert::TRADE_RECORD, v1::Alert::HIGH, {"CHN", "RUS"});
  const v1::Alert update =
      MakeAlert(v1::Alert::TRADE_UPDATE, v1::Alert::LOW, {"CHN", "RUS"});
  EXPECT_TRUE(AlertMatches("type = TRADE_RECORD", record));
  EXPECT_FALSE(AlertMatches("type = TRADE_RECORD", update));
  EXPECT_TRUE(AlertMatches("type=TRADE_RECORD", record));
  EXPECT_FALSE(AlertMatches("type != TRADE_RECORD", record));
  EXPECT_TRUE(AlertMatches("type != TRADE_RECORD", update));
}

TEST(FilterTest, TwoCountryRestrictionsJoinedByAndNeedBoth) {
  const std::string filter = "countries:CHN AND countries:RUS";
  EXPECT_TRUE(AlertMatches(filter, MakeAlert(v1::Alert::TRADE_RECORD,
                                             v1::Alert::HIGH, {"CHN", "RUS"})));
  EXPECT_FALSE(AlertMatches(
      filter,
      MakeAlert(v1::Alert::TRADE_RECORD, v1::Alert::HIGH, {"CHN", "USA"})));
  EXPECT_FALSE(AlertMatches(
      filter, MakeAlert(v1::Alert::TRADE_RECORD, v1::Alert::HIGH, {"RUS"})));
}

TEST(FilterTest, SeverityAtLeastHighMatchesOnlyHigh) {
  EXPECT_TRUE(
      AlertMatches("severity >= HIGH",
                   MakeAlert(v1::Alert::TRADE_RECORD, v1::Alert::HIGH, {})));
  EXPECT_FALSE(AlertMatches(
      "severity >= HIGH",
      MakeAlert(v1::Alert::LEADER_MEETING_NEW, v1::Alert::MEDIUM, {})));
}

TEST(FilterTest, MeetingAlertsNotAboutUsa) {
  const std::string filter =
      "(type = LEADER_MEETING_NEW OR type = LEADER_MEETING_UPDATED) AND NOT "
      "countries:USA";
  EXPECT_TRUE(AlertMatches(filter, MakeAlert(v1::Alert::LEADER_MEETING_NEW,
                                             v1::Alert::HIGH, {"CHN", "RUS"})));
  EXPECT_TRUE(AlertMatches(filter, MakeAlert(v1::Alert::LEADER_MEETING_UPDATED,
                                             v1::Alert::MEDIUM, {"RUS"})));
  EXPECT_FALSE(
      AlertMatches(filter, MakeAlert(v1::Alert::LEADER_MEETING_NEW,
                                     v1::Alert::HIGH, {"RUS", "USA"})));
  EXPECT_FALSE(AlertMatches(
      filter, MakeAlert(v1::Alert::TRADE_RECORD, v1::Alert::HIGH, {"CHN"})));
}

TEST(FilterTest, QuotedHeadlineSubstringIgnoresCase) {
  v1::Alert alert = MakeAlert(v1::Alert::PEACE_TALK_STATUS_CHANGED,
                              v1::Alert::HIGH, {"RUS", "UKR"});
  alert.set_headline("Russia and Ukraine agree a Ceasefire in Istanbul");
  EXPECT_TRUE(AlertMatches("headline:\"ceasefire\"", alert));
  EXPECT_TRUE(AlertMatches("headline:\"agree a cease\"", alert));
  alert.set_headline("Talks in Istanbul stall");
  EXPECT_FALSE(AlertMatches("headline:\"ceasefire\"", alert));
}

TEST(FilterTest, MinusNegatesARestriction) {
  EXPECT_FALSE(AlertMatches(
      "-countries:USA",
      MakeAlert(v1::Alert::TRADE_RECORD, v1::Alert::HIGH, {"CHN", "USA"})));
  EXPECT_TRUE(AlertMatches(
      "-countries:USA",
      MakeAlert(v1::Alert::TRADE_RECORD, v1::Alert::HIGH, {"CHN", "RUS"})));
  EXPECT_TRUE(AlertMatches(
      "type = TRADE_RECORD -countries:USA",
      MakeAlert(v1::Alert::TRADE_RECORD, v1::Alert::HIGH, {"CHN"})));
}

TEST(FilterTest, JuxtapositionMeansAnd) {
  const std::string filter = "type = TRADE_RECORD countries:RUS";
  EXPECT_TRUE(AlertMatches(filter, MakeAlert(v1::Alert::TRADE_RECORD,
                                             v1::Alert::HIGH, {"CHN", "RUS"})));
  EXPECT_FALSE(AlertMatches(
      filter, MakeAlert(v1::Alert::TRADE_RECORD, v1::Alert::HIGH, {"CHN"})));
  EXPECT_FALSE(AlertMatches(
      filter, MakeAlert(v1::Alert::TRADE_UPDATE, v1::Alert::LOW, {"RUS"})));
}

// ---------------------------------------------------------------------------
// Precedence: each case gives a different answer under the wrong grouping.

TEST(FilterTest, OrBindsTighterThanAnd) {
  // (record OR update) AND RUS; read as record OR (update AND RUS) this
  // record about China alone would match.
  const std::string filter =
      "type = TRADE_RECORD OR type = TRADE_UPDATE AND countries:RUS";
  EXPECT_FALSE(AlertMatches(
      filter, MakeAlert(v1::Alert::TRADE_RECORD, v1::Alert::HIGH, {"CHN"})));
  EXPECT_TRUE(AlertMatches(
      filter, MakeAlert(v1::Alert::TRADE_RECORD, v1::Alert::HIGH, {"RUS"})));
  EXPECT_TRUE(AlertMatches(
      filter, MakeAlert(v1::Alert::TRADE_UPDATE, v1::Alert::LOW, {"RUS"})));
}

TEST(FilterTest, OrBindsTighterThanJuxtaposition) {
  // record AND (RUS OR CHN); read as (record RUS) OR CHN this update about
  // China would match.
  const std::string filter =
      "type = TRADE_RECORD countries:RUS OR countries:CHN";
  EXPECT_FALSE(AlertMatches(
      filter, MakeAlert(v1::Alert::TRADE_UPDATE, v1::Alert::LOW, {"CHN"})));
  EXPECT_TRUE(AlertMatches(
      filter, MakeAlert(v1::Alert::TRADE_RECORD, v1::Alert::HIGH, {"CHN"})));
}

TEST(FilterTest, NotAppliesToOneTermOnly) {
  // (NOT record) OR HIGH; read as NOT (record OR HIGH) a high record would
  // not match.
  const std::string filter = "NOT type = TRADE_RECORD OR severity = HIGH";
  EXPECT_TRUE(AlertMatches(
      filter, MakeAlert(v1::Alert::TRADE_RECORD, v1::Alert::HIGH, {})));
  EXPECT_FALSE(AlertMatches(
      filter, MakeAlert(v1::Alert::TRADE_RECORD, v1::Alert::MEDIUM, {})));
  EXPECT_TRUE(AlertMatches(
      filter, MakeAlert(v1::Alert::TRADE_UPDATE, v1::Alert::LOW, {})));
}

TEST(FilterTest, ParenthesesOverridePrecedence) {
  const std::string filter =
      "type = TRADE_RECORD OR (type = TRADE_UPDATE AND countries:RUS)";
  EXPECT_TRUE(AlertMatches(
      filter, MakeAlert(v1::Alert::TRADE_RECORD, v1::Alert::HIGH, {"CHN"})));
  EXPECT_FALSE(AlertMatches(
      filter, MakeAlert(v1::Alert::TRADE_UPDATE, v1::Alert::LOW, {"CHN"})));
  EXPECT_TRUE(
      AlertMatches("NOT (type = TRADE_RECORD OR severity = HIGH)",
                   MakeAlert(v1::Alert::TRADE_UPDATE, v1::Alert::LOW, {})));
  EXPECT_FALSE(
      AlertMatches("NOT (type = TRADE_RECORD OR severity = HIGH)",
                   MakeAlert(v1::Alert::TRADE_UPDATE, v1::Alert::HIGH, {})));
}

// ---------------------------------------------------------------------------
// Alert fields

TEST(FilterTest, SeverityComparesByRankWithEveryComparator) {
  const v1::Alert low = MakeAlert(v1::Alert::TRADE_UPDATE, v1::Alert::LOW, {});
  const v1::Alert medium =
      MakeAlert(v1::Alert::LEADER_MEETING_NEW, v1::Alert::MEDIUM, {});
  const v1::Alert high =
      MakeAlert(v1::Alert::TRADE_RECORD, v1::Alert::HIGH, {});
  struct Case {
    const char* filter;
    bool low, medium, high;
  };
  for (const Case& c : {
           Case{"severity = MEDIUM", false, true, false},
           Case{"severity != MEDIUM", true, false, true},
           Case{"severity < MEDIUM", true, false, false},
           Case{"severity <= MEDIUM", true, true, false},
           Case{"severity > MEDIUM", false, false, true},
           Case{"severity >= MEDIUM", false, true, true},
           Case{"severity > LOW", false, true, true},
           Case{"severity < HIGH", true, true, false},
           Case{"severity:MEDIUM", false, true, false},
       }) {
    EXPECT_EQ(AlertMatches(c.filter, low), c.low) << c.filter;
    EXPECT_EQ(AlertMatches(c.filter, medium), c.medium) << c.filter;
    EXPECT_EQ(AlertMatches(c.filter, high), c.high) << c.filter;
  }
}

TEST(FilterTest, HasOnAnEnumFieldMeansEquals) {
  v1::Alert alert = MakeAlert(v1::Alert::TRADE_RECORD, v1::Alert::HIGH, {});
  *alert.mutable_event() = TradeEvent();
  EXPECT_TRUE(AlertMatches("type:TRADE_RECORD", alert));
  EXPECT_FALSE(AlertMatches("type:TRADE_UPDATE", alert));
  EXPECT_TRUE(AlertMatches("kind:trade", alert));
  EXPECT_FALSE(AlertMatches("kind:meeting", alert));
  // Not a substring match and not case-insensitive: the value must be a name.
  EXPECT_THAT(CompileError("type:TRADE"), ErrorAt(6, "invalid type \"TRADE\""));
  EXPECT_THAT(CompileError("kind:Trade"), ErrorAt(6, "invalid kind \"Trade\""));
}

TEST(FilterTest, AlertCountriesAreTheAlertsOwnField) {
  v1::Alert alert =
      MakeAlert(v1::Alert::TRADE_RECORD, v1::Alert::HIGH, {"USA"});
  *alert.mutable_event() = TradeEvent();  // CHN and RUS.
  EXPECT_TRUE(AlertMatches("countries:USA", alert));
  EXPECT_TRUE(AlertMatches("countries:usa", alert));
  EXPECT_FALSE(AlertMatches("countries:CHN", alert));
  // An element must equal the value, not contain it.
  EXPECT_FALSE(AlertMatches("countries:US", alert));
}

TEST(FilterTest, AlertActorsAreTheMeetingParticipantsIgnoringCase) {
  v1::Alert alert =
      MakeAlert(v1::Alert::LEADER_MEETING_NEW, v1::Alert::MEDIUM, {});
  *alert.mutable_event() = MeetingEvent();
  EXPECT_TRUE(AlertMatches("actors:\"Wang Yi\"", alert));
  EXPECT_TRUE(AlertMatches("actors:\"sergei lavrov\"", alert));
  EXPECT_FALSE(AlertMatches("actors:Wang", alert));
  EXPECT_FALSE(AlertMatches("actors:\"Antony Blinken\"", alert));
  *alert.mutable_event() = TradeEvent();
  EXPECT_FALSE(AlertMatches("actors:\"Wang Yi\"", alert));
}

TEST(FilterTest, AlertTopicsAreTheMeetingTopicsIgnoringCase) {
  v1::Alert alert =
      MakeAlert(v1::Alert::LEADER_MEETING_NEW, v1::Alert::MEDIUM, {});
  *alert.mutable_event() = MeetingEvent();
  EXPECT_TRUE(AlertMatches("topics:security", alert));
  EXPECT_TRUE(AlertMatches("topics:ENERGY", alert));
  EXPECT_FALSE(AlertMatches("topics:trade", alert));
}

TEST(FilterTest, StringEqualityIsExactAndCaseSensitive) {
  v1::Alert alert =
      MakeAlert(v1::Alert::LEADER_MEETING_NEW, v1::Alert::MEDIUM, {});
  *alert.mutable_event() = MeetingEvent();  // Outlet "Reuters".
  EXPECT_TRUE(AlertMatches("outlet = Reuters", alert));
  EXPECT_FALSE(AlertMatches("outlet = reuters", alert));
  EXPECT_FALSE(AlertMatches("outlet = Reuter", alert));
  EXPECT_TRUE(AlertMatches("outlet != reuters", alert));
  EXPECT_FALSE(AlertMatches("outlet != Reuters", alert));
  EXPECT_TRUE(AlertMatches("outlet:REUT", alert));
  EXPECT_FALSE(AlertMatches("outlet:AP", alert));
}

TEST(FilterTest, AlertHeadlineIdsProcessAndKind) {
  v1::Alert alert = MakeAlert(v1::Alert::PEACE_TALK_STATUS_CHANGED,
                              v1::Alert::MEDIUM, {"RUS", "TUR", "UKR"});
  alert.set_alert_id("a-17");
  alert.set_headline("Istanbul talks in progress");
  *alert.mutable_event() = PeaceTalkEvent();
  EXPECT_TRUE(AlertMatches("alert_id = a-17", alert));
  EXPECT_FALSE(AlertMatches("alert_id = a-1", alert));
  EXPECT_TRUE(AlertMatches("alert_id:A-1", alert));
  EXPECT_TRUE(AlertMatches("event_id = evt-peace-1", alert));
  EXPECT_FALSE(AlertMatches("event_id = evt-trade-1", alert));
  EXPECT_TRUE(AlertMatches("process_id = ukraine-russia-2025", alert));
  EXPECT_TRUE(AlertMatches("process_id:UKRAINE", alert));
  EXPECT_FALSE(AlertMatches("process_id = ukraine", alert));
  EXPECT_TRUE(AlertMatches("kind = peace_talk", alert));
  EXPECT_FALSE(AlertMatches("kind = meeting", alert));
  EXPECT_TRUE(AlertMatches("kind != meeting", alert));
  EXPECT_TRUE(AlertMatches("outlet = AP", alert));
  EXPECT_TRUE(AlertMatches("headline = \"Istanbul talks in progress\"", alert));
  EXPECT_FALSE(AlertMatches("headline = Istanbul", alert));
}

TEST(FilterTest, UnsetFieldsReadAsEmpty) {
  // An alert without an event: no kind, outlet, actors or topics.
  const v1::Alert alert =
      MakeAlert(v1::Alert::TRADE_UPDATE, v1::Alert::LOW, {});
  EXPECT_FALSE(AlertMatches("countries:RUS", alert));
  EXPECT_FALSE(AlertMatches("actors:x", alert));
  EXPECT_FALSE(AlertMatches("topics:x", alert));
  EXPECT_FALSE(AlertMatches("process_id:x", alert));
  EXPECT_TRUE(AlertMatches("outlet = \"\"", alert));
  EXPECT_TRUE(AlertMatches("outlet != Reuters", alert));
  EXPECT_TRUE(AlertMatches("kind != meeting", alert));
  EXPECT_FALSE(AlertMatches("kind = trade", alert));
  // A trade event has no process id and no topics.
  v1::Alert trade = alert;
  *trade.mutable_event() = TradeEvent();
  EXPECT_TRUE(AlertMatches("NOT topics:energy", trade));
  EXPECT_TRUE(AlertMatches("process_id = \"\"", trade));
}

TEST(FilterTest, QuotedValuesUnescapeQuotesAndBackslashes) {
  v1::Alert alert = MakeAlert(v1::Alert::TRADE_UPDATE, v1::Alert::LOW, {});
  alert.set_headline(R"(Minister says "no" to C:\plan)");
  EXPECT_TRUE(AlertMatches(R"(headline:"says \"NO\"")", alert));
  EXPECT_TRUE(AlertMatches(R"(headline:"C:\\plan")", alert));
  EXPECT_FALSE(AlertMatches(R"(headline:"C:plan")", alert));
  // A quoted keyword is a value.
  alert.set_headline("Trade AND security");
  EXPECT_TRUE(AlertMatches("headline:\"AND\"", alert));
}

TEST(FilterTest, BareWordsMayHoldDotsDigitsAndInnerDashes) {
  v1::Alert alert = MakeAlert(v1::Alert::TRADE_UPDATE, v1::Alert::LOW, {});
  alert.mutable_event()->set_event_id("wire.2025-05-16_7");
  EXPECT_TRUE(AlertMatches("event_id = wire.2025-05-16_7", alert));
  EXPECT_TRUE(AlertMatches("event_id:2025-05", alert));
}

TEST(FilterTest, NonAsciiValuesCompareByBytes) {
  v1::Alert alert =
      MakeAlert(v1::Alert::LEADER_MEETING_NEW, v1::Alert::MEDIUM, {"CHE"});
  alert.set_headline("Talks open in Genève");
  // ASCII case folding only: È and è differ.
  EXPECT_FALSE(AlertMatches("headline:GENÈVE", alert));
  EXPECT_TRUE(AlertMatches("headline:genève", alert));
  EXPECT_TRUE(AlertMatches("headline:\"GENèVE\"", alert));
}

// ---------------------------------------------------------------------------
// Event fields (ListEvents)

TEST(FilterTest, EventKindSelectsTheEventsKind) {
  EXPECT_TRUE(EventMatches("kind = meeting", MeetingEvent()));
  EXPECT_FALSE(EventMatches("kind = meeting", TradeEvent()));
  EXPECT_TRUE(EventMatches("kind = trade", TradeEvent()));
  EXPECT_TRUE(EventMatches("kind:peace_talk", PeaceTalkEvent()));
  EXPECT_TRUE(EventMatches("kind != trade", PeaceTalkEvent()));
}

TEST(FilterTest, EventCountriesIncludeHostsVenuesAndBothTradePartners) {
  EXPECT_TRUE(EventMatches("countries:KAZ", MeetingEvent()));  // Host.
  EXPECT_TRUE(EventMatches("countries:chn", MeetingEvent()));  // Participant.
  EXPECT_FALSE(EventMatches("countries:UKR", MeetingEvent()));
  EXPECT_TRUE(EventMatches("countries:CHN countries:RUS", TradeEvent()));
  EXPECT_TRUE(EventMatches("countries:TUR", PeaceTalkEvent()));  // Venue.
  EXPECT_TRUE(EventMatches("countries:UKR", PeaceTalkEvent()));  // Party.
  EXPECT_FALSE(EventMatches("countries:CHN", PeaceTalkEvent()));
}

TEST(FilterTest, EventActorsTopicsOutletProcessAndId) {
  EXPECT_TRUE(EventMatches("actors:\"wang yi\"", MeetingEvent()));
  EXPECT_FALSE(EventMatches("actors:\"wang yi\"", TradeEvent()));
  EXPECT_TRUE(EventMatches("topics:Energy", MeetingEvent()));
  EXPECT_FALSE(EventMatches("topics:Energy", PeaceTalkEvent()));
  EXPECT_TRUE(EventMatches("outlet = Xinhua", TradeEvent()));
  EXPECT_FALSE(EventMatches("outlet = Xinhua", MeetingEvent()));
  EXPECT_TRUE(
      EventMatches("process_id = ukraine-russia-2025", PeaceTalkEvent()));
  EXPECT_FALSE(EventMatches("process_id:ukraine", MeetingEvent()));
  EXPECT_TRUE(EventMatches("event_id = evt-trade-1", TradeEvent()));
  EXPECT_FALSE(EventMatches("event_id = evt-trade-1", MeetingEvent()));
  EXPECT_TRUE(
      EventMatches("kind = meeting AND (countries:KAZ OR countries:USA) AND "
                   "NOT topics:trade",
                   MeetingEvent()));
}

TEST(FilterTest, AlertOnlyFieldsAreUnknownInEventFilters) {
  for (const char* field : {"type", "severity", "headline", "alert_id"}) {
    const std::string filter = absl::StrCat("kind = trade AND ", field, ":x");
    EXPECT_THAT(CompileError(filter, FilterTarget::kEvent),
                ErrorAt(18, absl::StrCat("unknown field \"", field,
                                         "\": it is an alert field")))
        << filter;
  }
  // The list of known fields names only event fields.
  EXPECT_THAT(CompileError("colour:red", FilterTarget::kEvent),
              ErrorAt(1,
                      "(known fields: countries, actors, outlet, "
                      "process_id, topics, kind, event_id)"));
}

// ---------------------------------------------------------------------------
// Empty filters and targets

TEST(FilterTest, EmptyOrBlankFilterMatchesEverything) {
  const v1::Alert alert =
      MakeAlert(v1::Alert::TRADE_UPDATE, v1::Alert::LOW, {});
  for (const char* text : {"", "   ", " \t\r\n "}) {
    const Filter filter = MustCompile(text);
    EXPECT_TRUE(filter.matches_everything());
    EXPECT_TRUE(filter.Matches(alert));
    EXPECT_TRUE(MustCompile(text, FilterTarget::kEvent).Matches(TradeEvent()));
  }
  EXPECT_TRUE(Filter().matches_everything());
  EXPECT_TRUE(Filter().Matches(alert));
  EXPECT_FALSE(MustCompile("severity = LOW").matches_everything());
}

TEST(FilterTest, FilterOfTheOtherTargetMatchesNothing) {
  const v1::Alert alert =
      MakeAlert(v1::Alert::TRADE_UPDATE, v1::Alert::LOW, {});
  EXPECT_FALSE(MustCompile("", FilterTarget::kEvent).Matches(alert));
  EXPECT_FALSE(
      MustCompile("kind != meeting", FilterTarget::kEvent).Matches(alert));
  EXPECT_FALSE(MustCompile("kind = trade").Matches(TradeEvent()));
}

TEST(FilterTest, CopiesOutliveTheOriginal) {
  const v1::Alert alert =
      MakeAlert(v1::Alert::TRADE_RECORD, v1::Alert::HIGH, {"RUS"});
  Filter copy;
  {
    const Filter original = MustCompile("countries:RUS severity = HIGH");
    copy = original;
  }
  EXPECT_TRUE(copy.Matches(alert));
  EXPECT_FALSE(copy.Matches(
      MakeAlert(v1::Alert::TRADE_RECORD, v1::Alert::LOW, {"RUS"})));
}

TEST(FilterTest, EvaluationDoesNotAllocate) {
  v1::Alert alert =
      MakeAlert(v1::Alert::LEADER_MEETING_NEW, v1::Alert::HIGH, {"CHN", "RUS"});
  alert.set_headline("Wang Yi meets Sergei Lavrov in Astana");
  *alert.mutable_event() = MeetingEvent();
  const Filter filter = MustCompile(
      "(type = LEADER_MEETING_NEW OR severity >= HIGH) countries:rus "
      "actors:\"WANG YI\" headline:astana -topics:trade kind = meeting "
      "outlet != AP event_id:MEETING alert_id = alert-1 NOT process_id:x");
  const Filter event_filter =
      MustCompile("kind = meeting actors:\"wang yi\" topics:energy outlet:reut",
                  FilterTarget::kEvent);
  const v1::DiplomaticEvent event = MeetingEvent();

  allocations = 0;
  count_allocations = true;
  const bool alert_matched = filter.Matches(alert);
  const bool event_matched = event_filter.Matches(event);
  count_allocations = false;

  EXPECT_TRUE(alert_matched);
  EXPECT_TRUE(event_matched);
  EXPECT_EQ(allocations.load(), 0);
}

// ---------------------------------------------------------------------------
// Errors: each names the column (1-based, in characters) where it starts.

TEST(FilterTest, UnknownFieldNamesColumnAndKnownFields) {
  EXPECT_THAT(
      CompileError("type = TRADE_RECORD AND colour = red"),
      ErrorAt(25,
              "unknown field \"colour\" (known fields: type, severity, "
              "countries, actors, headline, outlet, process_id, topics, "
              "kind, alert_id, event_id)"));
}

TEST(FilterTest, FieldNamesAreCaseSensitive) {
  EXPECT_THAT(CompileError("Type = TRADE_RECORD"),
              ErrorAt(1,
                      "unknown field \"Type\" (field names are lower case: "
                      "did you mean \"type\"?"));
}

TEST(FilterTest, InvalidEnumValueListsTheValidNames) {
  EXPECT_THAT(CompileError("type = TRADE"),
              ErrorAt(8,
                      "invalid type \"TRADE\" (valid values: "
                      "LEADER_MEETING_NEW, LEADER_MEETING_UPDATED, "
                      "TRADE_RECORD, TRADE_UPDATE, "
                      "PEACE_TALK_STATUS_CHANGED)"));
  EXPECT_THAT(CompileError("type = TYPE_UNSPECIFIED"),
              ErrorAt(8, "invalid type \"TYPE_UNSPECIFIED\""));
  EXPECT_THAT(CompileError("severity >= critical"),
              ErrorAt(13,
                      "invalid severity \"critical\" (valid values: LOW, "
                      "MEDIUM, HIGH)"));
  EXPECT_THAT(CompileError("kind = \"Meeting\"", FilterTarget::kEvent),
              ErrorAt(8,
                      "invalid kind \"Meeting\" (valid values: meeting, "
                      "trade, peace_talk)"));
}

TEST(FilterTest, EqualsOnARepeatedFieldSuggestsHas) {
  EXPECT_THAT(CompileError("countries = CHN"),
              ErrorAt(11,
                      "operator \"=\" is not supported on the repeated "
                      "field \"countries\"; use \":\""));
  EXPECT_THAT(CompileError("kind = trade actors != \"Wang Yi\""),
              ErrorAt(21, "repeated field \"actors\""));
  EXPECT_THAT(CompileError("topics=energy"),
              ErrorAt(7, "repeated field \"topics\""));
}

TEST(FilterTest, OrderingOutsideSeverityIsRejected) {
  EXPECT_THAT(CompileError("headline < b"),
              ErrorAt(10, "operator \"<\" is only supported on \"severity\""));
  EXPECT_THAT(CompileError("type >= TRADE_RECORD"),
              ErrorAt(6, "operator \">=\" is only supported on \"severity\""));
  EXPECT_THAT(CompileError("countries > CHN"),
              ErrorAt(11, "only supported on \"severity\""));
}

TEST(FilterTest, MissingValueNamesWhereItWasExpected) {
  EXPECT_THAT(CompileError("countries:CHN AND headline:"),
              ErrorAt(28,
                      "expected a value after \":\", found the end of "
                      "the filter"));
  EXPECT_THAT(CompileError("type = )"),
              ErrorAt(8, "expected a value after \"=\", found \")\""));
  EXPECT_THAT(CompileError("headline:AND"),
              ErrorAt(10, "quote a keyword to use it as a value: \"AND\""));
}

TEST(FilterTest, UnterminatedStringPointsAtItsOpeningQuote) {
  EXPECT_THAT(CompileError("severity = HIGH headline:\"cease"),
              ErrorAt(26, "unterminated string"));
  EXPECT_THAT(CompileError(R"(headline:"cease\")"),
              ErrorAt(10, "unterminated string"));
  EXPECT_THAT(CompileError(R"(headline:"a\)"),
              ErrorAt(10, "unterminated string"));
}

TEST(FilterTest, UnknownEscapeIsRejected) {
  EXPECT_THAT(CompileError(R"(headline:"a\nb")"),
              ErrorAt(12, "unknown escape \\n ("));
}

// A message travels in proto string fields (RequestError.message, and
// grpc-message), which a client fails to parse unless it is valid UTF-8.
bool IsValidUtf8(absl::string_view text) {
  v1::RequestError error;
  error.set_message(std::string(text));
  v1::RequestError received;
  return received.ParseFromString(error.SerializeAsString());
}

// A fuzz finding: the escape was quoted one byte long, which put the lone
// lead byte of "é" in the message.
TEST(FilterTest, UnknownEscapeBeforeNonAsciiQuotesTheWholeCharacter) {
  for (const std::string character : {"é", "日", "🕊"}) {
    const absl::Status status =
        CompileError(absl::StrCat("headline:\"\\", character, "\""));
    EXPECT_THAT(status, ErrorAt(11, absl::StrCat("unknown escape \\", character,
                                                 " (")));
    EXPECT_TRUE(IsValidUtf8(status.message())) << status;
  }
  // A byte that starts no well-formed character (the text is not UTF-8:
  // a lone byte, a lead byte without its continuation, a surrogate) is
  // written as \xNN.
  const std::array<std::pair<std::string, std::string>, 3> invalid = {{
      {"\xe9\"", "\\xe9"},
      {"\xc3(\"", "\\xc3"},
      {"\xed\xa0\x80\"", "\\xed"},
  }};
  for (const auto& [bytes, escaped] : invalid) {
    const absl::Status status =
        CompileError(absl::StrCat("headline:\"\\", bytes));
    EXPECT_THAT(status,
                ErrorAt(11, absl::StrCat("unknown escape \\", escaped, " (")));
    EXPECT_TRUE(IsValidUtf8(status.message())) << status;
  }
}

TEST(FilterTest, UnbalancedParenthesesPointAtTheUnmatchedOne) {
  EXPECT_THAT(CompileError("(type = TRADE_RECORD"),
              ErrorAt(1, "unbalanced \"(\""));
  EXPECT_THAT(CompileError("severity = HIGH AND ((kind = trade) OR kind = "
                           "meeting"),
              ErrorAt(21, "unbalanced \"(\""));
  EXPECT_THAT(CompileError("type = TRADE_RECORD)"),
              ErrorAt(20, "unbalanced \")\""));
  EXPECT_THAT(CompileError("()"),
              ErrorAt(2,
                      "expected a restriction such as countries:CHN after "
                      "\"(\", found \")\""));
}

TEST(FilterTest, TrailingGarbageIsRejected) {
  EXPECT_THAT(CompileError("severity >= HIGH = LOW"),
              ErrorAt(18, "unexpected \"=\""));
  EXPECT_THAT(CompileError("(severity >= HIGH :x)"),
              ErrorAt(19, "unexpected \":\""));
  EXPECT_THAT(CompileError("type = TRADE_RECORD & countries:RUS"),
              ErrorAt(21, "unexpected character \"&\""));
  EXPECT_THAT(CompileError("type = TRADE_RECORD ! countries:RUS"),
              ErrorAt(21, "unexpected \"!\""));
}

TEST(FilterTest, DanglingKeywordsNeedARestriction) {
  EXPECT_THAT(CompileError("type = TRADE_RECORD AND"),
              ErrorAt(24,
                      "expected a restriction such as countries:CHN after "
                      "AND, found the end of the filter"));
  EXPECT_THAT(CompileError("type = TRADE_RECORD OR AND severity = HIGH"),
              ErrorAt(24, "after OR, found AND"));
  EXPECT_THAT(CompileError("NOT"), ErrorAt(4, "after NOT"));
  EXPECT_THAT(CompileError("NOT NOT kind = trade"),
              ErrorAt(5, "after NOT, found NOT"));
  EXPECT_THAT(CompileError("AND kind = trade"),
              ErrorAt(1,
                      "expected a restriction such as countries:CHN, "
                      "found AND"));
  EXPECT_THAT(CompileError("-"), ErrorAt(2, "after \"-\""));
}

TEST(FilterTest, BareTermsAreNotSupported) {
  EXPECT_THAT(CompileError("ceasefire"),
              ErrorAt(1,
                      "bare terms such as \"ceasefire\" are not supported; "
                      "name a field and a comparator, e.g. "
                      "headline:\"ceasefire\""));
  EXPECT_THAT(CompileError("\"ceasefire\""),
              ErrorAt(1, "e.g. headline:\"ceasefire\""));
  EXPECT_THAT(CompileError("countries:RUS ceasefire"),
              ErrorAt(15, "bare terms such as \"ceasefire\""));
  EXPECT_THAT(CompileError("\"type\" = TRADE_RECORD"),
              ErrorAt(1, "expected a field name, found the quoted string"));
}

TEST(FilterTest, LowerCaseKeywordIsABareTermWithAHint) {
  EXPECT_THAT(CompileError("type = TRADE_RECORD and countries:RUS"),
              ErrorAt(21, "the keyword AND must be written in upper case"));
}

TEST(FilterTest, ColumnsCountCharactersNotBytes) {
  // "Genève" is 6 characters and 7 bytes; "日本" 2 characters and 6 bytes.
  EXPECT_THAT(CompileError("headline:\"Genève\" AND colour = red"),
              ErrorAt(23, "unknown field \"colour\""));
  EXPECT_THAT(CompileError("actors:\"日本\" severity = BAD"),
              ErrorAt(24, "invalid severity \"BAD\""));
}

TEST(FilterTest, NestingIsCapped) {
  const v1::Alert alert =
      MakeAlert(v1::Alert::TRADE_UPDATE, v1::Alert::LOW, {});
  const int max = Filter::kMaxDepth;
  const std::string deepest = absl::StrCat(
      std::string(max, '('), "severity = LOW", std::string(max, ')'));
  EXPECT_TRUE(AlertMatches(deepest, alert));
  const std::string too_deep = absl::StrCat(
      std::string(max + 1, '('), "severity = LOW", std::string(max + 1, ')'));
  EXPECT_THAT(CompileError(too_deep),
              ErrorAt(max + 1, absl::StrCat("nesting deeper than ", max)));
  const std::string negated =
      absl::StrCat("NOT (-(NOT (", std::string(max - 3, '('), "severity = LOW",
                   std::string(max, ')'));
  EXPECT_FALSE(AlertMatches(negated, alert));
}

TEST(FilterTest, LengthIsCapped) {
  const int max = Filter::kMaxLength;
  const std::string prefix = "headline:\"";
  std::string longest = prefix;
  // Multi-byte characters count once.
  while (longest.size() < prefix.size() + 2 * (max - prefix.size() - 1)) {
    longest += "é";
  }
  longest += "\"";
  EXPECT_THAT(Filter::Compile(longest, FilterTarget::kAlert), IsOk());
  EXPECT_THAT(CompileError(longest + " "),
              ErrorAt(max + 1, absl::StrCat("filter is longer than ", max,
                                            " characters")));
}

TEST(FilterTest, LimitsAreConfigurableAndErrorsNameTheirFlags) {
  FilterLimits limits;
  limits.max_length = 20;
  limits.max_depth = 2;
  // 20 characters ("é" counts once) pass; 21 fail, naming the flag.
  const std::string twenty = "headline:\"ééééééééé\"";
  EXPECT_THAT(Filter::Compile(twenty, FilterTarget::kAlert, limits), IsOk());
  EXPECT_THAT(
      Filter::Compile(twenty + " ", FilterTarget::kAlert, limits).status(),
      ErrorAt(21,
              "filter is longer than 20 characters "
              "(--max-filter-length=20)"));
  // Nesting 2 deep passes; 3 fail, naming the flag.
  EXPECT_THAT(Filter::Compile("((kind = trade))", FilterTarget::kEvent, limits),
              IsOk());
  EXPECT_THAT(
      Filter::Compile("(((kind = trade)))", FilterTarget::kEvent, limits)
          .status(),
      ErrorAt(3, "nesting deeper than 2 (--max-filter-depth=2)"));
  // The same limits apply to event and alert filters.
  EXPECT_THAT(
      Filter::Compile("(((severity = LOW)))", FilterTarget::kAlert, limits)
          .status(),
      ErrorAt(3, "nesting deeper than 2 (--max-filter-depth=2)"));
}

TEST(FilterTest, DeepestNestingTheFlagAllowsCompilesAndEvaluates) {
  // dipwired's --max-filter-depth accepts at most 256 (server/limits.cc):
  // the recursion must fit an ordinary thread's stack, also under ASan.
  FilterLimits limits;
  limits.max_depth = 256;
  limits.max_length = 1 << 20;
  const std::string deepest = absl::StrCat(
      std::string(256, '('), "NOT severity = LOW", std::string(256, ')'));
  absl::StatusOr<Filter> filter =
      Filter::Compile(deepest, FilterTarget::kAlert, limits);
  ASSERT_THAT(filter, IsOk());
  EXPECT_TRUE(
      filter->Matches(MakeAlert(v1::Alert::TRADE_RECORD, v1::Alert::HIGH, {})));
  EXPECT_FALSE(
      filter->Matches(MakeAlert(v1::Alert::TRADE_UPDATE, v1::Alert::LOW, {})));
}

TEST(FilterTest, LongChainsCompileAndEvaluate) {
  std::string filter = "countries:AAA";
  // (AAA OR AAA) (RUS OR AAA) ... (RUS OR AAA) RUS
  while (filter.size() + 31 <= static_cast<size_t>(Filter::kMaxLength)) {
    filter += " OR countries:AAA countries:RUS";
  }
  EXPECT_TRUE(AlertMatches(filter, MakeAlert(v1::Alert::TRADE_UPDATE,
                                             v1::Alert::LOW, {"AAA", "RUS"})));
  EXPECT_FALSE(AlertMatches(
      filter, MakeAlert(v1::Alert::TRADE_UPDATE, v1::Alert::LOW, {"AAA"})));
  EXPECT_FALSE(AlertMatches(
      filter, MakeAlert(v1::Alert::TRADE_UPDATE, v1::Alert::LOW, {"RUS"})));
}

// Every prefix of a few awkward inputs (the way a half-typed filter looks)
// either compiles or fails with INVALID_ARGUMENT naming a column.
TEST(FilterTest, HostileInputOnlyEverFailsWithInvalidArgument) {
  auto expect_ok_or_invalid = [](absl::string_view text) {
    for (FilterTarget target : {FilterTarget::kAlert, FilterTarget::kEvent}) {
      const absl::Status status = Filter::Compile(text, target).status();
      if (status.ok()) continue;
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << text;
      EXPECT_THAT(std::string(status.message()), StartsWith("filter: column "));
    }
  };
  const std::array<std::string, 4> samples = {
      "(type = LEADER_MEETING_NEW OR type = LEADER_MEETING_UPDATED) AND NOT "
      "countries:USA -headline:\"a \\\"b\\\" \\\\ c\" severity>=HIGH "
      "(kind:trade OR -(actors:\"Wang Yi\" topics:energy))",
      // Ends in a NUL too: all 12 bytes are part of the sample.
      std::string("\0\xff\xfe\x80 :=!<>\"\0", 12),
      "NOT NOT NOT NOT - - -",
      ")))(((",
  };
  for (const std::string& sample : samples) {
    for (size_t length = 0; length <= sample.size(); ++length) {
      expect_ok_or_invalid(absl::string_view(sample.data(), length));
    }
  }
  expect_ok_or_invalid(std::string(100000, '('));
  expect_ok_or_invalid(std::string(4000, '('));
  expect_ok_or_invalid(std::string(4000, '-'));
  expect_ok_or_invalid(std::string(4000, '"'));
  expect_ok_or_invalid(std::string(4000, '\xe9'));  // Invalid UTF-8.
}

}  // namespace
}  // namespace dipwire::server

#include "common/event_validation.h"

#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "dipwire/v1/alerts.pb.h"
#include "dipwire/v1/events.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace dipwire {
namespace {

using ::dipwire::testing::IsOk;
using ::dipwire::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using v1::DiplomaticEvent;
using v1::PublishRequest;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

// The fixed ingest time of every test: 2024-05-01T12:00:00Z.
absl::Time Now() {
  return absl::FromCivil(absl::CivilSecond(2024, 5, 1, 12, 0, 0),
                         absl::UTCTimeZone());
}

DiplomaticEvent ParseEvent(const std::string& text) {
  DiplomaticEvent event;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &event))
      << text;
  return event;
}

DiplomaticEvent ValidMeeting() {
  return ParseEvent(R"pb(
    event_id: "tass-0412"
    occurred_at { seconds: 1714557600 }
    reported_at { seconds: 1714560000 }
    source { outlet: "TASS" url: "https://tass.com/politics/1" }
    summary: "Lavrov and Wang Yi met in Beijing."
    cameo_code: "042"
    meeting {
      meeting_id: "lavrov-wang-2024-04"
      participants {
        name: "Sergei Lavrov"
        country: "RUS"
        role: FOREIGN_MINISTER
      }
      participants { name: "Wang Yi" country: "CHN" role: FOREIGN_MINISTER }
      host_country: "CHN"
      city: "Beijing"
      status: HELD
      topics: "Ukraine"
    }
  )pb");
}

DiplomaticEvent ValidTrade() {
  return ParseEvent(R"pb(
    event_id: "xinhua:trade.2023"
    occurred_at { seconds: 1704067200 }
    source { outlet: "Xinhua" }
    trade {
      country_a: "CHN"
      country_b: "RUS"
      year: 2023
      value_usd: 240110000000
      flow: TOTAL
      reporter: "China customs"
    }
  )pb");
}

DiplomaticEvent ValidPeaceTalk() {
  return ParseEvent(R"pb(
    event_id: "reuters_77"
    occurred_at { seconds: 1714500000 nanos: 500000000 }
    source { outlet: "Reuters" }
    peace_talk {
      process_id: "ukraine-peace-summit"
      title: "Summit on peace in Ukraine"
      status: SCHEDULED
      parties: "UKR"
      parties: "CHE"
      venue_country: "CHE"
    }
  )pb");
}

absl::Status Validate(const DiplomaticEvent& event) {
  return ValidateEvent(event, "events[0]", Now());
}

// The status of `event` with its message expected to contain `text`.
::testing::Matcher<absl::Status> InvalidWith(const std::string& text) {
  return StatusIs(kInvalid, HasSubstr(text));
}

// PublishStream carries messages in a proto string field
// (RequestError.message), which a client fails to parse unless it is valid
// UTF-8.
bool FitsAProtoString(const absl::Status& status) {
  v1::RequestError error;
  const std::string message(status.message());
  error.set_message(message);
  v1::RequestError received;
  return received.ParseFromString(error.SerializeAsString());
}

// --- Valid events -----------------------------------------------------------

TEST(EventValidationTest, ValidMeetingPasses) {
  EXPECT_THAT(Validate(ValidMeeting()), IsOk());
}

TEST(EventValidationTest, ValidTradePasses) {
  EXPECT_THAT(Validate(ValidTrade()), IsOk());
}

TEST(EventValidationTest, ValidPeaceTalkPasses) {
  EXPECT_THAT(Validate(ValidPeaceTalk()), IsOk());
}

TEST(EventValidationTest, OptionalFieldsMayBeUnset) {
  DiplomaticEvent event = ValidMeeting();
  event.clear_reported_at();
  event.clear_cameo_code();
  event.clear_summary();
  event.mutable_source()->clear_url();
  event.mutable_meeting()->set_meeting_id("");
  event.mutable_meeting()->set_host_country("");
  event.mutable_meeting()->clear_city();
  event.mutable_meeting()->clear_topics();
  event.mutable_meeting()->mutable_participants(0)->clear_role();
  EXPECT_THAT(Validate(event), IsOk());

  DiplomaticEvent talk = ValidPeaceTalk();
  talk.mutable_peace_talk()->clear_parties();
  talk.mutable_peace_talk()->set_venue_country("");
  EXPECT_THAT(Validate(talk), IsOk());
}

// --- Message format ---------------------------------------------------------

TEST(EventValidationTest, MessageNamesIndexEventIdFieldPathAndValue) {
  DiplomaticEvent event = ValidMeeting();
  event.mutable_meeting()->mutable_participants(0)->set_country("RU");
  EXPECT_THAT(
      ValidateEvent(event, "events[1]", Now()),
      StatusIs(kInvalid,
               "events[1] (event_id \"tass-0412\"): "
               "events[1].meeting.participants[0].country: \"RU\" is not an "
               "ISO 3166-1 alpha-3 country code"));
}

TEST(EventValidationTest, FirstErrorInFieldOrderIsReported) {
  DiplomaticEvent event = ValidTrade();
  event.set_cameo_code("x");
  event.mutable_trade()->set_year(1850);
  EXPECT_THAT(Validate(event), AllOf(InvalidWith("events[0].cameo_code"),
                                     Not(InvalidWith("trade.year"))));
}

TEST(EventValidationTest, LongValueIsQuotedShortenedAndEscaped) {
  DiplomaticEvent event = ValidTrade();
  event.mutable_trade()->set_country_b(std::string(1000, 'Z') + "\n");
  const absl::Status status = Validate(event);
  EXPECT_THAT(status, InvalidWith("trade.country_b: \"ZZZZ"));
  EXPECT_LT(status.message().size(), 300U);
  EXPECT_THAT(status, Not(InvalidWith("\n")));

  // Cut between characters, not inside one: 30 three-byte characters.
  std::string euros;
  for (int i = 0; i < 30; ++i) euros += "€";
  event.mutable_trade()->set_country_b(euros);
  const absl::Status cut = Validate(event);
  EXPECT_THAT(cut, InvalidWith("trade.country_b: \"€€€"));
  EXPECT_THAT(cut, InvalidWith("€\"..."));
  EXPECT_TRUE(FitsAProtoString(cut));
}

// --- event_id ---------------------------------------------------------------

TEST(EventValidationTest, MissingEventIdIsRejectedWithoutAnId) {
  DiplomaticEvent event = ValidTrade();
  event.clear_event_id();
  EXPECT_THAT(
      Validate(event),
      StatusIs(kInvalid, AllOf(StartsWith("events[0]: "),
                               HasSubstr("events[0].event_id: required"),
                               Not(HasSubstr("(event_id")))));
}

TEST(EventValidationTest, EventIdWithForbiddenCharacterIsRejected) {
  for (const char* id : {"tass 0412", "tass/0412", "ta\"ss", "тасс"}) {
    SCOPED_TRACE(id);
    DiplomaticEvent event = ValidTrade();
    event.set_event_id(id);
    EXPECT_THAT(Validate(event),
                StatusIs(kInvalid, AllOf(StartsWith("events[0]: "),
                                         HasSubstr("events[0].event_id: "),
                                         HasSubstr("[A-Za-z0-9._:-]"))));
  }
  DiplomaticEvent event = ValidTrade();
  event.set_event_id("tass 0412");
  EXPECT_THAT(Validate(event), InvalidWith("\"tass 0412\""));
  event.set_event_id("ta\"ss");
  EXPECT_THAT(Validate(event), InvalidWith("\"ta\\\"ss\""));
}

TEST(EventValidationTest, NonAsciiEventIdIsRejectedWithAValidUtf8Message) {
  DiplomaticEvent event = ValidTrade();
  event.set_event_id("tass-№1");
  const absl::Status status = Validate(event);
  EXPECT_THAT(status, InvalidWith("events[0].event_id: \"tass-№1\" has a "
                                  "non-ASCII character at offset 5"));
  EXPECT_TRUE(FitsAProtoString(status));
}

TEST(EventValidationTest, EventIdMayUseEveryAllowedCharacter) {
  DiplomaticEvent event = ValidTrade();
  event.set_event_id(
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-");
  EXPECT_THAT(Validate(event), IsOk());
}

TEST(EventValidationTest, EventIdOf128CharactersPassesAnd129IsRejected) {
  DiplomaticEvent event = ValidTrade();
  event.set_event_id(std::string(128, 'a'));
  EXPECT_THAT(Validate(event), IsOk());
  event.set_event_id(std::string(129, 'a'));
  EXPECT_THAT(Validate(event), InvalidWith("events[0].event_id: "));
  EXPECT_THAT(Validate(event), InvalidWith("129 characters"));
}

// --- Timestamps -------------------------------------------------------------

TEST(EventValidationTest, MissingOccurredAtIsRejected) {
  DiplomaticEvent event = ValidMeeting();
  event.clear_occurred_at();
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0] (event_id \"tass-0412\"): "
                          "events[0].occurred_at: required"));
}

TEST(EventValidationTest, OccurredAtOutsideTimestampRangeIsRejected) {
  DiplomaticEvent event = ValidMeeting();
  event.mutable_occurred_at()->set_seconds(253402300800);  // year 10000
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].occurred_at.seconds: 253402300800"));
  event.mutable_occurred_at()->set_seconds(-62135596801);  // year 0
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].occurred_at.seconds: -62135596801"));
}

TEST(EventValidationTest, TimestampNanosOutOfRangeIsRejected) {
  DiplomaticEvent event = ValidMeeting();
  event.mutable_reported_at()->set_nanos(1000000000);
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].reported_at.nanos: 1000000000 is not in "
                          "0..999999999"));
  event.mutable_reported_at()->set_nanos(-1);
  EXPECT_THAT(Validate(event), InvalidWith("events[0].reported_at.nanos: -1"));
}

TEST(EventValidationTest, ReportedAtUpToOneDayAheadPasses) {
  DiplomaticEvent event = ValidMeeting();
  for (absl::Duration ahead : {absl::Hours(23), absl::Hours(24)}) {
    SCOPED_TRACE(ahead);
    event.mutable_reported_at()->set_seconds(
        absl::ToUnixSeconds(Now() + ahead));
    EXPECT_THAT(Validate(event), IsOk());
  }
}

TEST(EventValidationTest, ReportedAtMoreThanOneDayAheadIsRejected) {
  DiplomaticEvent event = ValidMeeting();
  event.mutable_reported_at()->set_seconds(
      absl::ToUnixSeconds(Now() + absl::Hours(25)));
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].reported_at: 2024-05-02T13:00:00Z is "
                          "more than 1 day after"));
}

TEST(EventValidationTest, OccurredAtMayBeInTheFuture) {
  // Scheduled meetings are reported ahead of time.
  DiplomaticEvent event = ValidMeeting();
  event.mutable_occurred_at()->set_seconds(
      absl::ToUnixSeconds(Now() + absl::Hours(24 * 60)));
  EXPECT_THAT(Validate(event), IsOk());
}

// --- source, cameo_code, kind -----------------------------------------------

TEST(EventValidationTest, MissingSourceIsRejectedAsMissingOutlet) {
  DiplomaticEvent event = ValidPeaceTalk();
  event.clear_source();
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].source.outlet: required"));
}

TEST(EventValidationTest, EmptyOrBlankOutletIsRejected) {
  DiplomaticEvent event = ValidPeaceTalk();
  event.mutable_source()->set_outlet("");
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].source.outlet: required"));
  event.mutable_source()->set_outlet(" \t ");
  EXPECT_THAT(Validate(event), InvalidWith("events[0].source.outlet: "));
}

TEST(EventValidationTest, CameoCodeOfTwoToFourDigitsPasses) {
  DiplomaticEvent event = ValidMeeting();
  for (const char* code : {"04", "042", "0412"}) {
    SCOPED_TRACE(code);
    event.set_cameo_code(code);
    EXPECT_THAT(Validate(event), IsOk());
  }
}

TEST(EventValidationTest, MalformedCameoCodeIsRejected) {
  DiplomaticEvent event = ValidMeeting();
  for (const char* code : {"4", "04123", "04a", "-42", "٠٤٢"}) {
    SCOPED_TRACE(code);
    event.set_cameo_code(code);
    EXPECT_THAT(Validate(event),
                InvalidWith(absl::StrCat("events[0].cameo_code: \"", code,
                                         "\" is not a CAMEO event code")));
  }
}

// --- coverage ---------------------------------------------------------------

// The GDELT measures of a real row (GlobalEventID 1256322914).
v1::Coverage GdeltCoverage() {
  v1::Coverage coverage;
  coverage.set_num_mentions(10);
  coverage.set_num_sources(1);
  coverage.set_num_articles(10);
  coverage.set_goldstein_scale(8.0);
  coverage.set_avg_tone(2.37);
  return coverage;
}

TEST(EventValidationTest, CoverageWithinRangesPasses) {
  DiplomaticEvent event = ValidMeeting();
  *event.mutable_coverage() = GdeltCoverage();
  EXPECT_THAT(Validate(event), IsOk());
  // The ends of each range, and zeros (a measurement, e.g. a neutral
  // Goldstein score), pass.
  for (const double goldstein : {-10.0, 0.0, 10.0}) {
    event.mutable_coverage()->set_goldstein_scale(goldstein);
    EXPECT_THAT(Validate(event), IsOk()) << goldstein;
  }
  for (const double tone : {-100.0, -13.77, 100.0}) {
    event.mutable_coverage()->set_avg_tone(tone);
    EXPECT_THAT(Validate(event), IsOk()) << tone;
  }
  event.mutable_coverage()->Clear();  // set, all zero
  EXPECT_THAT(Validate(event), IsOk());
}

TEST(EventValidationTest, NegativeCoverageCountIsRejectedNamingTheField) {
  for (const char* field : {"num_mentions", "num_sources", "num_articles"}) {
    SCOPED_TRACE(field);
    DiplomaticEvent event = ValidPeaceTalk();
    *event.mutable_coverage() = GdeltCoverage();
    v1::Coverage* coverage = event.mutable_coverage();
    const std::string name(field);
    if (name == "num_mentions") coverage->set_num_mentions(-1);
    if (name == "num_sources") coverage->set_num_sources(-1);
    if (name == "num_articles") coverage->set_num_articles(-1);
    EXPECT_THAT(
        Validate(event),
        StatusIs(kInvalid, absl::StrCat("events[0] (event_id \"reuters_77\"): "
                                        "events[0].coverage.",
                                        field,
                                        ": -1 is negative (a count, 0 or "
                                        "more)")));
  }
}

TEST(EventValidationTest, GoldsteinScaleOutsideTenIsRejected) {
  DiplomaticEvent event = ValidMeeting();
  *event.mutable_coverage() = GdeltCoverage();
  for (const double goldstein : {10.5, -11.0}) {
    event.mutable_coverage()->set_goldstein_scale(goldstein);
    EXPECT_THAT(Validate(event),
                InvalidWith(absl::StrCat(
                    "events[0].coverage.goldstein_scale: ", goldstein,
                    " is not in -10..10 (the Goldstein "
                    "scale)")));
  }
}

TEST(EventValidationTest, AvgToneOutsideHundredOrNotANumberIsRejected) {
  DiplomaticEvent event = ValidMeeting();
  *event.mutable_coverage() = GdeltCoverage();
  for (const double tone :
       {100.5, -250.0, std::numeric_limits<double>::quiet_NaN(),
        std::numeric_limits<double>::infinity()}) {
    event.mutable_coverage()->set_avg_tone(tone);
    EXPECT_THAT(Validate(event), InvalidWith("events[0].coverage.avg_tone: "))
        << tone;
  }
  event.mutable_coverage()->set_avg_tone(-250.0);
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].coverage.avg_tone: -250 is not in "
                          "-100..100"));
}

TEST(EventValidationTest, CoverageIsCheckedAfterCameoCodeBeforeKind) {
  DiplomaticEvent event = ValidTrade();
  *event.mutable_coverage() = GdeltCoverage();
  event.mutable_coverage()->set_goldstein_scale(11);
  event.mutable_trade()->set_year(1850);
  EXPECT_THAT(Validate(event), AllOf(InvalidWith("coverage.goldstein_scale"),
                                     Not(InvalidWith("trade.year"))));
  event.set_cameo_code("x");
  EXPECT_THAT(Validate(event), InvalidWith("events[0].cameo_code"));
}

TEST(EventValidationTest, EventWithoutKindIsRejectedNamingTheChoices) {
  DiplomaticEvent event = ValidMeeting();
  event.clear_meeting();
  EXPECT_THAT(Validate(event),
              StatusIs(kInvalid, AllOf(HasSubstr("events[0].kind: "),
                                       HasSubstr("meeting"), HasSubstr("trade"),
                                       HasSubstr("peace_talk"))));
}

// --- meeting ----------------------------------------------------------------

TEST(EventValidationTest, MeetingNeedsTwoParticipants) {
  DiplomaticEvent event = ValidMeeting();
  event.mutable_meeting()->mutable_participants()->RemoveLast();
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].meeting.participants: 1 participant; a "
                          "meeting needs at least 2"));
  event.mutable_meeting()->clear_participants();
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].meeting.participants: 0 participants"));
}

TEST(EventValidationTest, ParticipantWithoutNameIsRejected) {
  DiplomaticEvent event = ValidMeeting();
  event.mutable_meeting()->mutable_participants(1)->set_name("");
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].meeting.participants[1].name: required"));
  event.mutable_meeting()->mutable_participants(1)->set_name("   ");
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].meeting.participants[1].name: \"   \" "
                          "is blank"));
}

TEST(EventValidationTest, ParticipantWithoutCountryIsRejected) {
  DiplomaticEvent event = ValidMeeting();
  event.mutable_meeting()->mutable_participants(1)->set_country("");
  EXPECT_THAT(
      Validate(event),
      InvalidWith("events[0].meeting.participants[1].country: required"));
}

TEST(EventValidationTest, LowerCaseCountryIsRejectedWithAHint) {
  DiplomaticEvent event = ValidMeeting();
  event.mutable_meeting()->mutable_participants(0)->set_country("rus");
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].meeting.participants[0].country: \"rus\" "
                          "is not an ISO 3166-1 alpha-3 country code (did you "
                          "mean \"RUS\"?)"));
}

TEST(EventValidationTest, RegionalCodeIsNotACountry) {
  DiplomaticEvent event = ValidMeeting();
  event.mutable_meeting()->mutable_participants(1)->set_country("EUR");
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].meeting.participants[1].country: \"EUR\" "
                          "is not an ISO 3166-1 alpha-3 country code"));
}

TEST(EventValidationTest, UnknownRoleValueIsRejected) {
  DiplomaticEvent event = ValidMeeting();
  event.mutable_meeting()->mutable_participants(1)->set_role(
      static_cast<v1::Actor::Role>(99));
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].meeting.participants[1].role: 99 is not a "
                          "known value (one of HEAD_OF_STATE,"));
}

TEST(EventValidationTest, InvalidHostCountryIsRejected) {
  DiplomaticEvent event = ValidMeeting();
  event.mutable_meeting()->set_host_country("CN");
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].meeting.host_country: \"CN\" is not an "
                          "ISO 3166-1 alpha-3 country code"));
}

TEST(EventValidationTest, KosovoIsACountry) {
  DiplomaticEvent event = ValidMeeting();
  event.mutable_meeting()->set_host_country("XKX");
  event.mutable_meeting()->mutable_participants(0)->set_country("XKX");
  EXPECT_THAT(Validate(event), IsOk());
}

TEST(EventValidationTest, MeetingWithoutStatusIsRejectedNamingTheChoices) {
  DiplomaticEvent event = ValidMeeting();
  event.mutable_meeting()->clear_status();
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].meeting.status: required (one of "
                          "EXPECTED, SCHEDULED, HELD, POSTPONED or "
                          "CANCELLED)"));
}

TEST(EventValidationTest, UnknownMeetingStatusValueIsRejected) {
  DiplomaticEvent event = ValidMeeting();
  event.mutable_meeting()->set_status(
      static_cast<v1::LeaderMeeting::Status>(6));
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].meeting.status: 6 is not a known value"));
}

// --- trade ------------------------------------------------------------------

TEST(EventValidationTest, TradeNeedsBothCountries) {
  DiplomaticEvent event = ValidTrade();
  event.mutable_trade()->set_country_a("");
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].trade.country_a: required"));
  event = ValidTrade();
  event.mutable_trade()->set_country_b("");
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].trade.country_b: required"));
}

TEST(EventValidationTest, TradeCountriesMustBeCountryCodes) {
  DiplomaticEvent event = ValidTrade();
  event.mutable_trade()->set_country_b("AFR");
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].trade.country_b: \"AFR\" is not an ISO "
                          "3166-1 alpha-3 country code"));
}

TEST(EventValidationTest, TradeBetweenACountryAndItselfIsRejected) {
  DiplomaticEvent event = ValidTrade();
  event.mutable_trade()->set_country_b("CHN");
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].trade.country_b: \"CHN\" is also "
                          "country_a"));
}

TEST(EventValidationTest, TradeYearOutside1900To2100IsRejected) {
  DiplomaticEvent event = ValidTrade();
  event.mutable_trade()->set_year(1850);
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].trade.year: 1850 is not in 1900..2100"));
  event.mutable_trade()->set_year(2101);
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].trade.year: 2101 is not in 1900..2100"));
  event.mutable_trade()->clear_year();
  EXPECT_THAT(Validate(event), InvalidWith("events[0].trade.year: required"));
}

TEST(EventValidationTest, TradeYears1900And2100Pass) {
  DiplomaticEvent event = ValidTrade();
  event.mutable_trade()->set_year(1900);
  EXPECT_THAT(Validate(event), IsOk());
  event.mutable_trade()->set_year(2100);
  EXPECT_THAT(Validate(event), IsOk());
}

TEST(EventValidationTest, TradeValueMustBePositive) {
  DiplomaticEvent event = ValidTrade();
  event.mutable_trade()->set_value_usd(0);
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].trade.value_usd: required"));
  event.mutable_trade()->set_value_usd(-5);
  EXPECT_THAT(
      Validate(event),
      InvalidWith("events[0].trade.value_usd: -5 is not greater than 0"));
  event.mutable_trade()->set_value_usd(1);
  EXPECT_THAT(Validate(event), IsOk());
}

TEST(EventValidationTest, TradeWithoutFlowIsRejected) {
  DiplomaticEvent event = ValidTrade();
  event.mutable_trade()->clear_flow();
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].trade.flow: required (one of TOTAL, "
                          "EXPORTS or IMPORTS)"));
  event.mutable_trade()->set_flow(static_cast<v1::TradeFigure::Flow>(17));
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].trade.flow: 17 is not a known value"));
}

TEST(EventValidationTest, TradeWithoutReporterIsRejected) {
  DiplomaticEvent event = ValidTrade();
  event.mutable_trade()->set_reporter("");
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].trade.reporter: required"));
  event.mutable_trade()->set_reporter("\t");
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].trade.reporter: \"\\t\" is blank"));
}

// --- peace_talk -------------------------------------------------------------

TEST(EventValidationTest, PeaceTalkWithoutProcessIdIsRejected) {
  DiplomaticEvent event = ValidPeaceTalk();
  event.mutable_peace_talk()->set_process_id("");
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].peace_talk.process_id: required"));
  event.mutable_peace_talk()->set_process_id("  ");
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].peace_talk.process_id: \"  \" is blank"));
}

TEST(EventValidationTest, PeaceTalkWithoutStatusIsRejected) {
  DiplomaticEvent event = ValidPeaceTalk();
  event.mutable_peace_talk()->clear_status();
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].peace_talk.status: required (one of "
                          "PROPOSED, SCHEDULED, IN_PROGRESS, STALLED, "
                          "REJECTED, AGREED or COLLAPSED)"));
  event.mutable_peace_talk()->set_status(
      static_cast<v1::PeaceTalkUpdate::Status>(8));
  EXPECT_THAT(
      Validate(event),
      InvalidWith("events[0].peace_talk.status: 8 is not a known value"));
}

TEST(EventValidationTest, PeaceTalkPartyMustBeACountryCode) {
  DiplomaticEvent event = ValidPeaceTalk();
  event.mutable_peace_talk()->set_parties(1, "RU");
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].peace_talk.parties[1]: \"RU\" is not an "
                          "ISO 3166-1 alpha-3 country code"));
  event.mutable_peace_talk()->set_parties(1, "");
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].peace_talk.parties[1]: required"));
}

TEST(EventValidationTest, PeaceTalkVenueMustBeACountryCode) {
  DiplomaticEvent event = ValidPeaceTalk();
  event.mutable_peace_talk()->set_venue_country("EUR");
  EXPECT_THAT(Validate(event),
              InvalidWith("events[0].peace_talk.venue_country: \"EUR\" is not "
                          "an ISO 3166-1 alpha-3 country code"));
}

// --- Countries --------------------------------------------------------------

TEST(EventValidationTest, IsCountryCodeAcceptsIsoAlpha3AndKosovo) {
  for (const char* code :
       {"RUS", "CHN", "UKR", "USA", "CHE", "XKX", "ABW", "ZWE", "PSE", "TWN"}) {
    EXPECT_TRUE(IsCountryCode(code)) << code;
  }
}

TEST(EventValidationTest, IsCountryCodeRejectsEverythingElse) {
  for (const char* code : {"EUR", "AFR", "rus", "Rus", "RU", "R", "RUSS", "",
                           "XXX", "SUN", "YUG", "RUS "}) {
    EXPECT_FALSE(IsCountryCode(code)) << code;
  }
}

// --- Batches ----------------------------------------------------------------

PublishRequest Batch(std::initializer_list<DiplomaticEvent> events) {
  PublishRequest request;
  for (const DiplomaticEvent& event : events) *request.add_events() = event;
  return request;
}

TEST(EventValidationTest, ValidBatchPasses) {
  EXPECT_THAT(
      ValidatePublishRequest(
          Batch({ValidMeeting(), ValidTrade(), ValidPeaceTalk()}), Now()),
      IsOk());
}

TEST(EventValidationTest, EmptyBatchIsRejected) {
  EXPECT_THAT(
      ValidatePublishRequest(PublishRequest(), Now()),
      StatusIs(kInvalid, "events: a publish request needs at least one event"));
}

TEST(EventValidationTest, FirstInvalidEventOfBatchIsNamedByIndex) {
  DiplomaticEvent bad_year = ValidTrade();
  bad_year.set_event_id("bad-year");
  bad_year.mutable_trade()->set_year(1850);
  DiplomaticEvent bad_outlet = ValidPeaceTalk();
  bad_outlet.clear_source();
  EXPECT_THAT(ValidatePublishRequest(Batch({ValidMeeting(), ValidPeaceTalk(),
                                            bad_year, bad_outlet}),
                                     Now()),
              StatusIs(kInvalid,
                       "events[2] (event_id \"bad-year\"): "
                       "events[2].trade.year: 1850 is not in 1900..2100"));
}

TEST(EventValidationTest, RepeatedEventIdInBatchNamesBothIndexes) {
  DiplomaticEvent again = ValidPeaceTalk();
  again.set_event_id("x");
  DiplomaticEvent first = ValidTrade();
  first.set_event_id("x");
  EXPECT_THAT(
      ValidatePublishRequest(
          Batch({ValidMeeting(), first, ValidPeaceTalk(), again}), Now()),
      StatusIs(kInvalid,
               "events[3] (event_id \"x\"): event_id repeats "
               "events[1]; an event may appear once per batch"));
}

TEST(EventValidationTest, InvalidEventBeforeRepeatIsReportedFirst) {
  DiplomaticEvent bad = ValidTrade();
  bad.mutable_trade()->set_year(3000);
  EXPECT_THAT(
      ValidatePublishRequest(Batch({ValidTrade(), bad, ValidTrade()}), Now()),
      StatusIs(kInvalid, HasSubstr("events[1].trade.year: 3000")));
}

TEST(EventValidationTest, RepeatInLargeBatchNamesTheEarliestRepeat) {
  // Large enough to take the sorted path rather than the pairwise one. "a" is
  // at 10, 180 and 199; "b" at 20, 100 and 150.
  PublishRequest request;
  for (int i = 0; i < 200; ++i) {
    DiplomaticEvent* event = request.add_events();
    *event = ValidTrade();
    event->set_event_id(absl::StrCat("event-", i));
  }
  request.mutable_events(10)->set_event_id("a");
  request.mutable_events(180)->set_event_id("a");
  request.mutable_events(20)->set_event_id("b");
  request.mutable_events(100)->set_event_id("b");
  request.mutable_events(150)->set_event_id("b");
  request.mutable_events(199)->set_event_id("a");
  EXPECT_THAT(ValidatePublishRequest(request, Now()),
              StatusIs(kInvalid, StartsWith("events[100] (event_id \"b\"): "
                                            "event_id repeats events[20];")));

  request.mutable_events(100)->set_event_id("unique");
  EXPECT_THAT(ValidatePublishRequest(request, Now()),
              StatusIs(kInvalid, StartsWith("events[150] (event_id \"b\"): "
                                            "event_id repeats events[20];")));

  request.mutable_events(150)->set_event_id("unique-too");
  EXPECT_THAT(ValidatePublishRequest(request, Now()),
              StatusIs(kInvalid, StartsWith("events[180] (event_id \"a\"): "
                                            "event_id repeats events[10];")));

  request.mutable_events(180)->set_event_id("unique-three");
  request.mutable_events(199)->set_event_id("unique-four");
  EXPECT_THAT(ValidatePublishRequest(request, Now()), IsOk());
}

TEST(EventValidationTest, OversizedEventIsResourceExhaustedNamingIt) {
  const EventLimits limits;
  PublishRequest request;
  *request.add_events() = ValidTrade();
  DiplomaticEvent big = ValidPeaceTalk();
  big.set_event_id("big-1");
  big.set_summary(std::string(kMaxEventBytes, 'x'));
  *request.add_events() = big;
  EXPECT_THAT(ValidatePublishRequest(request, Now(), limits),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       AllOf(HasSubstr("events[1] (event_id \"big-1\")"),
                             HasSubstr("limit is 262144 bytes "
                                       "(--max-event-bytes=262144)"))));
  // Just under the limit is fine.
  request.mutable_events(1)->set_summary(
      std::string(kMaxEventBytes - 200, 'x'));
  EXPECT_THAT(ValidatePublishRequest(request, Now(), limits), IsOk());
}

TEST(EventValidationTest, OversizedEventIsRefusedForItsSizeBeforeItsFields) {
  DiplomaticEvent big = ValidTrade();
  big.set_summary(std::string(kMaxEventBytes, 'x'));
  big.mutable_trade()->set_year(1850);
  EXPECT_THAT(ValidatePublishRequest(Batch({big}), Now()),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("(--max-event-bytes=262144)")));
}

// --- Limits -----------------------------------------------------------------

TEST(EventValidationTest, EventBytesLimitIsConfigurable) {
  const DiplomaticEvent event = ValidMeeting();
  const size_t size = event.ByteSizeLong();
  EventLimits limits;
  limits.max_event_bytes = size;
  EXPECT_THAT(ValidatePublishRequest(Batch({event}), Now(), limits), IsOk());
  limits.max_event_bytes = size - 1;
  EXPECT_THAT(
      ValidatePublishRequest(Batch({event}), Now(), limits),
      StatusIs(absl::StatusCode::kResourceExhausted,
               absl::StrCat("events[0] (event_id \"tass-0412\"): the event is ",
                            size, " bytes serialized; the limit is ", size - 1,
                            " bytes (--max-event-bytes=", size - 1,
                            "); shorten summary, detail or topics")));
}

TEST(EventValidationTest, BatchOverMaxEventsIsResourceExhaustedBeforeAnyEvent) {
  EventLimits limits;
  limits.max_batch_events = 3;
  EXPECT_THAT(ValidatePublishRequest(
                  Batch({ValidMeeting(), ValidTrade(), ValidPeaceTalk()}),
                  Now(), limits),
              IsOk());
  DiplomaticEvent invalid = ValidTrade();
  invalid.set_event_id("bad");
  invalid.mutable_trade()->set_year(1);
  EXPECT_THAT(ValidatePublishRequest(Batch({ValidMeeting(), ValidTrade(),
                                            ValidPeaceTalk(), invalid}),
                                     Now(), limits),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "events: 4 events in one request; at most 3 are allowed "
                       "(--max-batch-events=3); split the batch"));
}

TEST(EventValidationTest, DefaultLimitsAreTheDocumentedOnes) {
  const EventLimits limits;
  EXPECT_EQ(limits.max_batch_events, 1000);
  EXPECT_EQ(limits.max_event_bytes, kMaxEventBytes);
  // By default a summary may fill the event: only the event's size binds.
  EXPECT_EQ(limits.max_summary_length, kMaxEventBytes);
  EXPECT_EQ(limits.max_field_length, 2048U);
  // And the forms without limits apply the defaults.
  DiplomaticEvent event = ValidMeeting();
  event.set_summary(std::string(200'000, 's'));
  EXPECT_THAT(Validate(event), IsOk());
  event.set_summary(std::string(kMaxEventBytes + 1, 's'));
  EXPECT_THAT(Validate(event), InvalidWith("(--max-summary-length=262144)"));
  event.set_summary("");
  event.mutable_source()->set_url(std::string(2048, 'u'));
  EXPECT_THAT(Validate(event), IsOk());
  event.mutable_source()->set_url(std::string(2049, 'u'));
  EXPECT_THAT(Validate(event), InvalidWith("(--max-field-length=2048)"));
  PublishRequest request;
  for (int i = 0; i < 1001; ++i) {
    *request.add_events() = ValidTrade();
    request.mutable_events(i)->set_event_id(absl::StrCat("t", i));
  }
  EXPECT_THAT(ValidatePublishRequest(request, Now()),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("(--max-batch-events=1000)")));
  request.mutable_events()->RemoveLast();
  EXPECT_THAT(ValidatePublishRequest(request, Now()), IsOk());
}

TEST(EventValidationTest, SummaryAndDetailLengthCountCharacters) {
  EventLimits limits;
  limits.max_summary_length = 10;
  DiplomaticEvent event = ValidMeeting();
  // Ten characters of two bytes each: 20 bytes, but within 10 characters.
  std::string ten;
  for (int i = 0; i < 10; ++i) ten += "é";
  event.set_summary(ten);
  EXPECT_THAT(ValidateEvent(event, "events[0]", Now(), limits), IsOk());
  event.set_summary(ten + "!");
  const absl::Status status = ValidateEvent(event, "events[0]", Now(), limits);
  EXPECT_THAT(status,
              StatusIs(kInvalid,
                       absl::StrCat("events[0] (event_id \"tass-0412\"): "
                                    "events[0].summary: \"",
                                    ten,
                                    "!\" is 11 characters long; at most 10 "
                                    "are allowed (--max-summary-length=10)")));

  DiplomaticEvent talk = ValidPeaceTalk();
  talk.mutable_peace_talk()->set_detail(std::string(10, 'd'));
  EXPECT_THAT(ValidateEvent(talk, "events[2]", Now(), limits), IsOk());
  talk.mutable_peace_talk()->set_detail(std::string(11, 'd'));
  EXPECT_THAT(ValidateEvent(talk, "events[2]", Now(), limits),
              StatusIs(kInvalid,
                       AllOf(StartsWith("events[2] (event_id \"reuters_77\"): "
                                        "events[2].peace_talk.detail: "),
                             HasSubstr("is 11 characters long; at most 10 are "
                                       "allowed (--max-summary-length=10)"))));
}

TEST(EventValidationTest, LongValueIsCutInTheMessageAtACharacterBoundary) {
  EventLimits limits;
  limits.max_summary_length = 40;
  DiplomaticEvent event = ValidMeeting();
  std::string summary;
  for (int i = 0; i < 41; ++i) summary += "日";  // 3 bytes each
  event.set_summary(summary);
  const absl::Status status = ValidateEvent(event, "events[0]", Now(), limits);
  EXPECT_THAT(status, InvalidWith("\"... is 41 characters long"));
  EXPECT_TRUE(FitsAProtoString(status)) << status;
}

// Every other free-text field: at the limit it passes; one character more
// fails, naming the field's path and the flag.
TEST(EventValidationTest, FieldLengthLimitAppliesToEveryOtherTextField) {
  struct Case {
    DiplomaticEvent event;
    std::string path;
    void (*set)(DiplomaticEvent* event, const std::string& value);
  };
  // The valid events with every text field under 12 characters.
  DiplomaticEvent meeting = ValidMeeting();
  meeting.mutable_source()->clear_url();
  meeting.mutable_meeting()->set_meeting_id("lw-2024");
  meeting.mutable_meeting()->mutable_participants(0)->set_name("Lavrov");
  DiplomaticEvent trade = ValidTrade();
  trade.mutable_trade()->set_reporter("customs");
  DiplomaticEvent talk = ValidPeaceTalk();
  talk.mutable_peace_talk()->set_process_id("ukraine");
  talk.mutable_peace_talk()->set_title("summit");
  const std::vector<Case> cases = {
      {meeting, "source.outlet",
       [](DiplomaticEvent* e, const std::string& v) {
         e->mutable_source()->set_outlet(v);
       }},
      {meeting, "source.url",
       [](DiplomaticEvent* e, const std::string& v) {
         e->mutable_source()->set_url(v);
       }},
      {meeting, "meeting.meeting_id",
       [](DiplomaticEvent* e, const std::string& v) {
         e->mutable_meeting()->set_meeting_id(v);
       }},
      {meeting, "meeting.participants[1].name",
       [](DiplomaticEvent* e, const std::string& v) {
         e->mutable_meeting()->mutable_participants(1)->set_name(v);
       }},
      {meeting, "meeting.city",
       [](DiplomaticEvent* e, const std::string& v) {
         e->mutable_meeting()->set_city(v);
       }},
      {meeting, "meeting.topics[0]",
       [](DiplomaticEvent* e, const std::string& v) {
         e->mutable_meeting()->set_topics(0, v);
       }},
      {trade, "trade.reporter",
       [](DiplomaticEvent* e, const std::string& v) {
         e->mutable_trade()->set_reporter(v);
       }},
      {talk, "peace_talk.process_id",
       [](DiplomaticEvent* e, const std::string& v) {
         e->mutable_peace_talk()->set_process_id(v);
       }},
      {talk, "peace_talk.title",
       [](DiplomaticEvent* e, const std::string& v) {
         e->mutable_peace_talk()->set_title(v);
       }},
  };
  EventLimits limits;
  limits.max_field_length = 12;
  for (const Case& c : cases) {
    DiplomaticEvent event = c.event;
    c.set(&event, "Genève Talks");  // 12 characters, 13 bytes
    EXPECT_THAT(ValidateEvent(event, "events[4]", Now(), limits), IsOk())
        << c.path;
    event = c.event;
    c.set(&event, "Genève Talks!");
    EXPECT_THAT(
        ValidateEvent(event, "events[4]", Now(), limits),
        StatusIs(kInvalid,
                 HasSubstr(absl::StrCat(
                     "): events[4].", c.path,
                     ": \"Genève Talks!\" is 13 characters long; "
                     "at most 12 are allowed (--max-field-length=12)"))))
        << c.path;
  }
}

}  // namespace
}  // namespace dipwire

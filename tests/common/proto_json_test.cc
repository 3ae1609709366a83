#include "common/proto_json.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "dipwire/v1/alerts.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace dipwire {
namespace {

using ::dipwire::testing::IsOk;
using ::dipwire::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::string_view kMeetingLine =
    R"({"eventId":"tass-0412","occurredAt":"2024-04-08T06:00:00Z",)"
    R"("reportedAt":"2024-04-05T10:30:00.5Z",)"
    R"("source":{"outlet":"TASS","url":"https://tass.com/politics/1"},)"
    R"("summary":"Lavrov to visit China","cameoCode":"042",)"
    R"("meeting":{"meetingId":"lavrov-wang-2024-04",)"
    R"("participants":[{"name":"Sergei Lavrov","country":"RUS",)"
    R"("role":"FOREIGN_MINISTER"},{"name":"Wang Yi","country":"CHN",)"
    R"("role":"FOREIGN_MINISTER"}],"hostCountry":"CHN","city":"Beijing",)"
    R"("status":"SCHEDULED","topics":["Ukraine","Asia-Pacific"]}})";

TEST(ProtoJsonTest, FullEventLineParses) {
  absl::StatusOr<v1::DiplomaticEvent> event = ParseEventJson(kMeetingLine);

  ASSERT_THAT(event, IsOk());
  EXPECT_EQ(event->event_id(), "tass-0412");
  EXPECT_EQ(event->occurred_at().seconds(), 1712556000);
  EXPECT_EQ(event->reported_at().nanos(), 500000000);
  EXPECT_EQ(event->source().outlet(), "TASS");
  EXPECT_EQ(event->source().url(), "https://tass.com/politics/1");
  EXPECT_EQ(event->summary(), "Lavrov to visit China");
  EXPECT_EQ(event->cameo_code(), "042");
  ASSERT_TRUE(event->has_meeting());
  const v1::LeaderMeeting& meeting = event->meeting();
  EXPECT_EQ(meeting.meeting_id(), "lavrov-wang-2024-04");
  ASSERT_EQ(meeting.participants_size(), 2);
  EXPECT_EQ(meeting.participants(1).name(), "Wang Yi");
  EXPECT_EQ(meeting.participants(1).country(), "CHN");
  EXPECT_EQ(meeting.participants(1).role(), v1::Actor::FOREIGN_MINISTER);
  EXPECT_EQ(meeting.host_country(), "CHN");
  EXPECT_EQ(meeting.city(), "Beijing");
  EXPECT_EQ(meeting.status(), v1::LeaderMeeting::SCHEDULED);
  EXPECT_THAT(meeting.topics(),
              ::testing::ElementsAre("Ukraine", "Asia-Pacific"));
}

TEST(ProtoJsonTest, ProtoFieldNamesAreAcceptedToo) {
  absl::StatusOr<v1::DiplomaticEvent> event = ParseEventJson(
      R"({"event_id":"a","peace_talk":{"process_id":"p","status":"AGREED"}})");
  ASSERT_THAT(event, IsOk());
  EXPECT_EQ(event->event_id(), "a");
  EXPECT_EQ(event->peace_talk().process_id(), "p");
}

TEST(ProtoJsonTest, UnknownFieldIsRejectedWithTheFieldNamed) {
  EXPECT_THAT(
      ParseEventJson(R"({"eventId":"a","eventid":"b"})"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("eventid")));
  EXPECT_THAT(
      ParseEventJson(
          R"({"eventId":"a","meeting":{"participants":[{"nmae":"x"}]}})"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("nmae"), HasSubstr("participants[0]"))));
}

TEST(ProtoJsonTest, EnumsParseByNameAndAnUnknownNameIsRejected) {
  absl::StatusOr<v1::DiplomaticEvent> event =
      ParseEventJson(R"({"trade":{"flow":"EXPORTS"}})");
  ASSERT_THAT(event, IsOk());
  EXPECT_EQ(event->trade().flow(), v1::TradeFigure::EXPORTS);

  EXPECT_THAT(ParseEventJson(R"({"trade":{"flow":"SIDEWAYS"}})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("trade.flow"), HasSubstr("SIDEWAYS"))));
}

TEST(ProtoJsonTest, Int64IsAcceptedAsStringOrNumber) {
  absl::StatusOr<v1::DiplomaticEvent> as_string =
      ParseEventJson(R"({"trade":{"valueUsd":"240100000000"}})");
  absl::StatusOr<v1::DiplomaticEvent> as_number =
      ParseEventJson(R"({"trade":{"valueUsd":240100000000}})");

  ASSERT_THAT(as_string, IsOk());
  ASSERT_THAT(as_number, IsOk());
  EXPECT_EQ(as_string->trade().value_usd(), 240100000000);
  EXPECT_EQ(as_number->trade().value_usd(), 240100000000);
  EXPECT_THAT(ParseEventJson(R"({"trade":{"valueUsd":"240.1 billion"}})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("trade.value_usd")));
}

TEST(ProtoJsonTest, TwoKindsInOneEventAreRejected) {
  EXPECT_THAT(ParseEventJson(R"({"meeting":{},"trade":{}})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kind")));
}

TEST(ProtoJsonTest, SyntaxErrorIsOneLineWithoutContext) {
  for (const char* line : {R"({"eventId": "a",)", "", "[1]", "not json"}) {
    absl::StatusOr<v1::DiplomaticEvent> event = ParseEventJson(line);
    EXPECT_THAT(
        event, StatusIs(absl::StatusCode::kInvalidArgument,
                        AllOf(Not(HasSubstr("\n")), Not(::testing::IsEmpty()))))
        << line;
  }
}

TEST(ProtoJsonTest, ToJsonLineIsOneLineWithCamelCaseNames) {
  absl::StatusOr<v1::DiplomaticEvent> event = ParseEventJson(kMeetingLine);
  ASSERT_THAT(event, IsOk());
  v1::Alert alert;
  alert.set_alert_id("al-1-0");
  alert.set_type(v1::Alert::TRADE_RECORD);
  alert.mutable_trade_change()->set_previous_record_usd(218200000000);
  *alert.mutable_event() = *event;

  const std::string json = ToJsonLine(alert);

  EXPECT_THAT(json, AllOf(HasSubstr(R"("alertId":"al-1-0")"),
                          HasSubstr(R"("type":"TRADE_RECORD")"),
                          HasSubstr(R"("previousRecordUsd":"218200000000")"),
                          HasSubstr(R"("eventId":"tass-0412")"),
                          HasSubstr(R"("occurredAt":"2024-04-08T06:00:00Z")")));
  EXPECT_THAT(json, Not(HasSubstr("event_id")));
  EXPECT_THAT(json, Not(HasSubstr("\n")));
  EXPECT_THAT(json, Not(HasSubstr(": ")));
  EXPECT_THAT(json, Not(HasSubstr("severity")));  // Defaults are omitted.
}

TEST(ProtoJsonTest, ToJsonLineRoundTripsThroughParseEventJson) {
  absl::StatusOr<v1::DiplomaticEvent> event = ParseEventJson(kMeetingLine);
  ASSERT_THAT(event, IsOk());

  absl::StatusOr<v1::DiplomaticEvent> again =
      ParseEventJson(ToJsonLine(*event));

  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(*event, *again))
      << ToJsonLine(*again);
}

TEST(ProtoJsonTest, ToJsonLineOfAnUnprintableValueIsStillAJsonObject) {
  v1::Alert alert;
  alert.set_alert_id("al-1-0");
  alert.mutable_created_at()->set_seconds(-1000000000000);  // Before year 1.

  const std::string json = ToJsonLine(alert);

  EXPECT_THAT(json, AllOf(::testing::StartsWith(R"({"jsonError":")"),
                          ::testing::EndsWith("}"), Not(HasSubstr("\n"))));
}

}  // namespace
}  // namespace dipwire

#include "server/webhook.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace dipwire::server {
namespace {

using ::dipwire::testing::IsOk;
using ::dipwire::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

google::protobuf::Struct ParseJson(const std::string& json) {
  google::protobuf::Struct parsed;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok())
      << json;
  return parsed;
}

v1::Alert TradeRecord() {
  v1::Alert alert;
  alert.set_alert_id("al-7-0");
  alert.set_cursor("YwAAAAAAAAAH");
  alert.set_type(v1::Alert::TRADE_RECORD);
  alert.set_severity(v1::Alert::HIGH);
  alert.set_headline("Trade record: CHN-RUS 2023 \"$240.1bn\" <up> & more");
  alert.add_countries("CHN");
  alert.add_countries("RUS");
  alert.mutable_event()->set_event_id("cn-customs-2023");
  alert.mutable_event()->mutable_source()->set_outlet("China customs");
  alert.mutable_event()->mutable_source()->set_url(
      "https://example.org/trade?a=1|2");
  alert.mutable_created_at()->set_seconds(1712566800);  // 2024-04-08T09:00Z
  alert.mutable_created_at()->set_nanos(500000000);
  return alert;
}

TEST(WebhookTest, CloudEventTypeIsTheLowerCaseAlertType) {
  EXPECT_EQ(CloudEventType(v1::Alert::TRADE_RECORD),
            "org.dipwire.alert.trade_record");
  EXPECT_EQ(CloudEventType(v1::Alert::PEACE_TALK_STATUS_CHANGED),
            "org.dipwire.alert.peace_talk_status_changed");
}

TEST(WebhookTest, CloudEventCarriesTheRequiredAttributesAndTheAlert) {
  const v1::Alert alert = TradeRecord();
  const std::string json = CloudEventJson(alert, "urn:dipwire:newsroom-1");
  const google::protobuf::Struct event = ParseJson(json);
  const auto& fields = event.fields();
  EXPECT_EQ(fields.at("specversion").string_value(), "1.0");
  EXPECT_EQ(fields.at("id").string_value(), "al-7-0");
  EXPECT_EQ(fields.at("source").string_value(), "urn:dipwire:newsroom-1");
  EXPECT_EQ(fields.at("type").string_value(), "org.dipwire.alert.trade_record");
  EXPECT_EQ(fields.at("time").string_value(), "2024-04-08T09:00:00.500Z");
  EXPECT_EQ(fields.at("subject").string_value(), "cn-customs-2023");
  EXPECT_EQ(fields.at("datacontenttype").string_value(), "application/json");
  // data is the alert in proto JSON, which parses back to the same alert.
  std::string data;
  ASSERT_TRUE(
      google::protobuf::util::MessageToJsonString(fields.at("data"), &data)
          .ok());
  v1::Alert round_trip;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(data, &round_trip).ok());
  EXPECT_EQ(round_trip.SerializeAsString(), alert.SerializeAsString());
  EXPECT_EQ(fields.at("data").struct_value().fields().at("type").string_value(),
            "TRADE_RECORD");
}

TEST(WebhookTest, CloudEventOmitsAnEmptySubject) {
  v1::Alert alert = TradeRecord();
  alert.mutable_event()->clear_event_id();
  const google::protobuf::Struct event =
      ParseJson(CloudEventJson(alert, "urn:x"));
  EXPECT_EQ(event.fields().count("subject"), 0U);
}

TEST(WebhookTest, SlackBodyHasTheHeadlineSeverityAndALinkToTheSource) {
  const google::protobuf::Struct body =
      ParseJson(SlackMessageJson(TradeRecord()));
  const std::string text = body.fields().at("text").string_value();
  EXPECT_EQ(text,
            "[HIGH] Trade record: CHN-RUS 2023 \"$240.1bn\" &lt;up&gt; &amp; "
            "more (China customs: https://example.org/trade?a=1|2)");
  const auto& blocks = body.fields().at("blocks").list_value();
  ASSERT_EQ(blocks.values_size(), 1);
  const auto& section = blocks.values(0).struct_value().fields();
  EXPECT_EQ(section.at("type").string_value(), "section");
  const auto& section_text = section.at("text").struct_value().fields();
  EXPECT_EQ(section_text.at("type").string_value(), "mrkdwn");
  EXPECT_EQ(section_text.at("text").string_value(),
            "*HIGH* Trade record: CHN-RUS 2023 \"$240.1bn\" &lt;up&gt; &amp; "
            "more\nSource: <https://example.org/trade?a=1%7C2|China customs>");
}

TEST(WebhookTest, SlackBodyWithoutAUrlNamesTheOutlet) {
  v1::Alert alert = TradeRecord();
  alert.mutable_event()->mutable_source()->clear_url();
  const google::protobuf::Struct body = ParseJson(SlackMessageJson(alert));
  EXPECT_THAT(body.fields().at("text").string_value(),
              HasSubstr("(China customs)"));
}

// The Standard Webhooks test vector (the one the spec's and Svix's libraries
// test against), checked independently with Python's hmac when this test was
// written.
TEST(WebhookTest, SignatureMatchesTheStandardWebhooksTestVector) {
  const absl::StatusOr<std::string> key =
      DecodeWebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(WebhookSignature(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                             R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(WebhookTest, SecretWithoutPrefixIsAccepted) {
  const absl::StatusOr<std::string> key =
      DecodeWebhookSecret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(key->size(), 24U);
}

TEST(WebhookTest, BadSecretsAreRejectedWithoutEchoingThem) {
  for (const char* secret :
       {"whsec_", "whsec_not base64!", "whsec_c2hvcnQ=",
        "whsec_QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
        "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"}) {
    const absl::StatusOr<std::string> key = DecodeWebhookSecret(secret);
    EXPECT_THAT(key, StatusIs(absl::StatusCode::kInvalidArgument)) << secret;
    const absl::string_view encoded = absl::string_view(secret).substr(6);
    if (!encoded.empty()) {
      EXPECT_THAT(std::string(key.status().message()), Not(HasSubstr(encoded)))
          << secret;
    }
  }
}

TEST(WebhookTest, RedactUrlHidesUserInfoQueryAndAllButThePathsFirstSegment) {
  EXPECT_EQ(RedactUrl("https://user:pw@hooks.example.org/a/b?token=x#f"),
            "https://***@hooks.example.org/a/***?***");
  EXPECT_EQ(RedactUrl("https://hooks.slack.com/services/T0/B0/XXXXXXXX"),
            "https://hooks.slack.com/services/***");
  EXPECT_EQ(RedactUrl("http://127.0.0.1:8080/hook"),
            "http://127.0.0.1:8080/hook");
  EXPECT_EQ(RedactUrl("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
  EXPECT_EQ(RedactUrl("http://desk.example:81?key=1"),
            "http://desk.example:81?***");
}

TEST(WebhookTest, JsonStringsEscapeControlCharacters) {
  std::string out;
  AppendJsonString("a\"b\\c\n\x01", &out);
  EXPECT_EQ(out, R"("a\"b\\c\n\u0001")");
}

}  // namespace
}  // namespace dipwire::server

#include "common/logging.h"

#include <string>

#include "gtest/gtest.h"

namespace dipwire {
namespace {

TEST(LoggingTest, JsonEscapeKeepsTextAndEscapesWhatJsonForbids) {
  EXPECT_EQ(JsonEscape("plain text"), "plain text");
  EXPECT_EQ(JsonEscape(R"(say "hi" \o/)"), R"(say \"hi\" \\o/)");
  EXPECT_EQ(JsonEscape("a\nb\tc\rd"), R"(a\nb\tc\rd)");
  EXPECT_EQ(JsonEscape(std::string("nul\0bell\a", 9)),
            R"(nul\u0000bell\u0007)");
}

TEST(LoggingTest, JsonEscapeKeepsUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(JsonEscape("Genève, Киев, 北京, 🕊"),
            "Genève, Киев, 北京, 🕊");
  // A lone continuation byte, a truncated sequence, an overlong '/' and an
  // encoded surrogate.
  EXPECT_EQ(JsonEscape("a\x80z"), R"(a\ufffdz)");
  EXPECT_EQ(JsonEscape("\xE4\xB8"), R"(\ufffd\ufffd)");
  EXPECT_EQ(JsonEscape("\xC0\xAF"), R"(\ufffd\ufffd)");
  EXPECT_EQ(JsonEscape("\xED\xA0\x80"), R"(\ufffd\ufffd\ufffd)");
}

TEST(LoggingTest, ParseLogFormatAcceptsTextAndJsonOnly) {
  LogFormat format = LogFormat::kText;
  EXPECT_TRUE(ParseLogFormat("json", &format));
  EXPECT_EQ(format, LogFormat::kJson);
  EXPECT_TRUE(ParseLogFormat("text", &format));
  EXPECT_EQ(format, LogFormat::kText);
  EXPECT_FALSE(ParseLogFormat("JSON", &format));
  EXPECT_FALSE(ParseLogFormat("logfmt", &format));
  EXPECT_EQ(format, LogFormat::kText);
}

}  // namespace
}  // namespace dipwire

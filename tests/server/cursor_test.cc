#include "server/cursor.h"

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace dipwire::server {
namespace {

using ::dipwire::testing::IsOk;
using ::dipwire::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

TEST(CursorTest, CursorRoundTripsPositions) {
  for (uint64_t position : {uint64_t{1}, uint64_t{2}, uint64_t{1} << 32,
                            uint64_t{1} << 63, ~uint64_t{0}}) {
    SCOPED_TRACE(position);
    absl::StatusOr<uint64_t> decoded = DecodeCursor(EncodeCursor(position));
    ASSERT_THAT(decoded, IsOk());
    EXPECT_EQ(*decoded, position);
  }
}

TEST(CursorTest, PageTokenRoundTripsPositionsForItsFilter) {
  for (uint64_t position :
       {uint64_t{0}, uint64_t{1}, uint64_t{1} << 32, uint64_t{1} << 63}) {
    SCOPED_TRACE(position);
    absl::StatusOr<uint64_t> decoded =
        DecodePageToken(EncodePageToken(position, "type = TRADE_RECORD"),
                        "type = TRADE_RECORD");
    ASSERT_THAT(decoded, IsOk());
    EXPECT_EQ(*decoded, position);
  }
}

TEST(CursorTest, EncodingIsStable) {
  // Cursors are stored by clients and durable subscriptions and must mean the
  // same position after an upgrade. If this fails, the format changed: keep
  // decoding the old one.
  EXPECT_EQ(EncodeCursor(1), "YwAAAAAAAAABwhYmJQ");
  EXPECT_EQ(EncodeCursor(uint64_t{1} << 32), "YwAAAAEAAAAAB71sVQ");
}

TEST(CursorTest, MalformedCursorIsInvalidArgumentNamingTheField) {
  for (const char* cursor :
       {"not a cursor", "!!!!", "YwAAAAAAAAABwhYmJQYwAAAAAAAAABwhYmJQ",
        "\xff\xfe", "42"}) {
    SCOPED_TRACE(cursor);
    EXPECT_THAT(
        DecodeCursor(cursor, "after_cursor"),
        StatusIs(kInvalid, AllOf(HasSubstr("after_cursor: "),
                                 HasSubstr("is not a dipwire cursor"))));
  }
}

TEST(CursorTest, EmptyCursorIsInvalidArgument) {
  EXPECT_THAT(DecodeCursor(""),
              StatusIs(kInvalid, HasSubstr("\"\" is not a dipwire cursor")));
}

TEST(CursorTest, TruncatedCursorIsInvalidArgument) {
  const std::string cursor = EncodeCursor(12345);
  for (size_t length = 0; length < cursor.size(); ++length) {
    SCOPED_TRACE(length);
    EXPECT_THAT(DecodeCursor(cursor.substr(0, length)), StatusIs(kInvalid));
  }
}

TEST(CursorTest, CursorAlteredInAnyOneCharacterIsInvalidArgument) {
  // Includes the last character, whose spare low bits a lenient base64
  // decoder ignores.
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const std::string cursor = EncodeCursor(uint64_t{1} << 32);
  for (size_t i = 0; i < cursor.size(); ++i) {
    for (char c : alphabet) {
      if (c == cursor[i]) continue;
      std::string altered = cursor;
      altered[i] = c;
      SCOPED_TRACE(altered);
      EXPECT_THAT(DecodeCursor(altered), StatusIs(kInvalid));
    }
  }
}

TEST(CursorTest, CursorWithPaddingOrWhiteSpaceIsInvalidArgument) {
  const std::string cursor = EncodeCursor(7);
  for (const std::string& variant :
       {cursor + "==", " " + cursor, cursor + "\n",
        cursor.substr(0, 9) + " " + cursor.substr(9)}) {
    SCOPED_TRACE(variant);
    EXPECT_THAT(DecodeCursor(variant), StatusIs(kInvalid));
  }
}

TEST(CursorTest, CursorForPositionZeroIsInvalidArgument) {
  EXPECT_THAT(DecodeCursor(EncodeCursor(0), "after_cursor"),
              StatusIs(kInvalid, AllOf(HasSubstr("after_cursor: "),
                                       HasSubstr("names no alert"))));
}

TEST(CursorTest, PageTokenIsNotACursor) {
  EXPECT_THAT(DecodeCursor(EncodePageToken(5, "")),
              StatusIs(kInvalid, HasSubstr("is not a dipwire cursor")));
}

TEST(CursorTest, CursorIsNotAPageToken) {
  EXPECT_THAT(DecodePageToken(EncodeCursor(5), ""),
              StatusIs(kInvalid, AllOf(HasSubstr("page_token: "),
                                       HasSubstr("is not a dipwire page token"),
                                       HasSubstr("next_page_token"))));
}

TEST(CursorTest, PageTokenForAnotherFilterIsRejectedSayingSo) {
  const std::string token = EncodePageToken(100, "countries:CHN");
  EXPECT_THAT(DecodePageToken(token, "countries:RUS"),
              StatusIs(kInvalid, HasSubstr("issued for a different filter")));
  EXPECT_THAT(DecodePageToken(token, ""),
              StatusIs(kInvalid, HasSubstr("issued for a different filter")));
}

TEST(CursorTest, MalformedPageTokenIsInvalidArgument) {
  for (const char* token : {"", "garbage", "cAAAAAAAAAAAtFlyz"}) {
    SCOPED_TRACE(token);
    EXPECT_THAT(DecodePageToken(token, ""),
                StatusIs(kInvalid, HasSubstr("is not a dipwire page token")));
  }
}

}  // namespace
}  // namespace dipwire::server

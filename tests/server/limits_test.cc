#include "server/limits.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace dipwire::server {
namespace {

using ::dipwire::testing::IsOk;
using ::dipwire::testing::StatusIs;

TEST(LimitsTest, EveryFlagSetsItsOwnLimitAndReadsItsDefault) {
  const Limits defaults;
  for (const LimitFlag& flag : LimitFlags()) {
    EXPECT_EQ(FindLimitFlag(flag.name), &flag);
    EXPECT_GE(flag.get(defaults), 1) << flag.name;
    EXPECT_LE(flag.get(defaults), flag.max) << flag.name;
    Limits limits;
    ASSERT_THAT(SetLimitFlag(flag, "7", &limits), IsOk()) << flag.name;
    EXPECT_EQ(flag.get(limits), 7) << flag.name;
    // No other limit moved.
    for (const LimitFlag& other : LimitFlags()) {
      if (&other != &flag) {
        EXPECT_EQ(other.get(limits), other.get(defaults))
            << flag.name << " moved " << other.name;
      }
    }
  }
  EXPECT_EQ(FindLimitFlag("--max-nothing"), nullptr);
  EXPECT_EQ(FindLimitFlag("--listen"), nullptr);
}

TEST(LimitsTest, DefaultsAreTheDocumentedOnes) {
  const Limits limits;
  EXPECT_EQ(limits.max_message_bytes, 4 * 1024 * 1024);
  EXPECT_EQ(limits.events.max_batch_events, 1000);
  EXPECT_EQ(limits.events.max_event_bytes, kMaxEventBytes);
  EXPECT_EQ(limits.events.max_summary_length, kMaxEventBytes);
  EXPECT_EQ(limits.events.max_field_length, 2048U);
  EXPECT_EQ(limits.filter.max_length, Filter::kMaxLength);
  EXPECT_EQ(limits.filter.max_depth, Filter::kMaxDepth);
  EXPECT_EQ(limits.max_streams, 1000);
  EXPECT_EQ(limits.max_publish_streams, 100);
  EXPECT_EQ(limits.max_pending_events, 100000U);
  EXPECT_EQ(limits.max_pending_bytes, size_t{256} << 20);
}

TEST(LimitsTest, ValueMustBeAWholeNumberInRange) {
  const LimitFlag& depth = *FindLimitFlag("--max-filter-depth");
  Limits limits;
  EXPECT_THAT(SetLimitFlag(depth, "256", &limits), IsOk());
  EXPECT_EQ(limits.filter.max_depth, 256);
  EXPECT_THAT(SetLimitFlag(depth, "1", &limits), IsOk());
  EXPECT_EQ(limits.filter.max_depth, 1);
  for (const std::string value :
       {"0", "-3", "257", "", "ten", "1.5", "9999999999999999999999"}) {
    EXPECT_THAT(SetLimitFlag(depth, value, &limits),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         absl::StrCat("--max-filter-depth: \"", value,
                                      "\" is not a whole number in 1..256")));
  }
  EXPECT_EQ(limits.filter.max_depth, 1);  // unchanged by the failures
  const LimitFlag& bytes = *FindLimitFlag("--max-message-bytes");
  EXPECT_THAT(SetLimitFlag(bytes, "2147483647", &limits), IsOk());
  EXPECT_EQ(limits.max_message_bytes, 2147483647);
  EXPECT_THAT(SetLimitFlag(bytes, "2147483648", &limits),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace dipwire::server

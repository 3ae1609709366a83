#include "server/auth.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/token.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/status_matchers.h"

namespace dipwire::server {
namespace {

using ::dipwire::testing::FakeClock;
using ::dipwire::testing::IsOk;
using ::dipwire::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

TokenSpec Token(const std::string& name, const std::string& token,
                std::vector<Role> roles) {
  TokenSpec spec;
  spec.name = name;
  spec.sha256 = Sha256(token);
  spec.roles = std::move(roles);
  return spec;
}

class AuthTest : public ::testing::Test {
 protected:
  FakeClock clock_{absl::FromUnixSeconds(1'700'000'000)};
};

TEST_F(AuthTest, MissingOrUnknownTokenIsUnauthenticated) {
  const Authenticator auth({Token("wire", "dw_wire", {Role::kPublish})},
                           &clock_);
  EXPECT_THAT(
      auth.Authorize("", Role::kPublish),
      StatusIs(absl::StatusCode::kUnauthenticated,
               AllOf(HasSubstr("no bearer token"), HasSubstr("publish role"))));
  EXPECT_THAT(auth.Authorize("Basic dw_wire", Role::kPublish),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("not a bearer token")));
  EXPECT_THAT(
      auth.Authorize("Bearer dw_other", Role::kPublish),
      StatusIs(absl::StatusCode::kUnauthenticated,
               AllOf(HasSubstr("unknown token"), Not(HasSubstr("dw_other")))));
  // A prefix of a valid token is another token.
  EXPECT_THAT(auth.Authorize("Bearer dw_wir", Role::kPublish),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(AuthTest, KnownTokenWithoutTheRoleIsPermissionDenied) {
  const Authenticator auth({Token("desk", "dw_desk", {Role::kSubscribe})},
                           &clock_);
  EXPECT_THAT(auth.Authorize("Bearer dw_desk", Role::kPublish),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "token \"desk\" does not have the publish role"));
  EXPECT_THAT(auth.Authorize("Bearer dw_desk", Role::kAdmin),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(AuthTest, TokenWithTheRoleIsTheCallerAndAdminMayDoEverything) {
  const Authenticator auth(
      {Token("desk", "dw_desk", {Role::kSubscribe}),
       Token("ops", "dw_ops", {Role::kAdmin}),
       Token("both", "dw_both", {Role::kPublish, Role::kSubscribe})},
      &clock_);
  absl::StatusOr<const Authenticator::Caller*> caller =
      auth.Authorize("Bearer dw_desk", Role::kSubscribe);
  ASSERT_THAT(caller, IsOk());
  EXPECT_EQ((*caller)->spec().name, "desk");
  // The scheme is case-insensitive (RFC 7235).
  caller = auth.Authorize("bearer dw_both", Role::kPublish);
  ASSERT_THAT(caller, IsOk());
  EXPECT_EQ((*caller)->spec().name, "both");
  for (const Role role : {Role::kPublish, Role::kSubscribe, Role::kAdmin}) {
    caller = auth.Authorize("Bearer dw_ops", role);
    ASSERT_THAT(caller, IsOk()) << RoleName(role);
    EXPECT_EQ((*caller)->spec().name, "ops");
  }
}

TEST_F(AuthTest, AuthenticateTakesAnyKnownTokenWhateverItsRoles) {
  const Authenticator auth({Token("wire", "dw_wire", {Role::kPublish}),
                            Token("desk", "dw_desk", {Role::kSubscribe})},
                           &clock_);
  for (const char* token : {"Bearer dw_wire", "bearer dw_desk"}) {
    const absl::StatusOr<const Authenticator::Caller*> caller =
        auth.Authenticate(token);
    ASSERT_THAT(caller, IsOk()) << token;
  }
  EXPECT_EQ((*auth.Authenticate("Bearer dw_desk"))->spec().name, "desk");
  EXPECT_THAT(auth.Authenticate(""),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       AllOf(HasSubstr("no bearer token"),
                             HasSubstr("a valid token, of any role"))));
  EXPECT_THAT(auth.Authenticate("Basic dw_wire"),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("not a bearer token")));
  EXPECT_THAT(
      auth.Authenticate("Bearer dw_other"),
      StatusIs(absl::StatusCode::kUnauthenticated,
               AllOf(HasSubstr("unknown token"), Not(HasSubstr("dw_other")))));
}

TEST_F(AuthTest, PublishRateAllowsTheBurstThenRefillsWithTime) {
  TokenSpec spec = Token("wire", "dw_wire", {Role::kPublish});
  spec.publish_events_per_second = 10;
  spec.publish_burst = 100;
  const Authenticator auth({spec}, &clock_);
  const Authenticator::Caller* caller =
      *auth.Authorize("Bearer dw_wire", Role::kPublish);

  // A batch of 64 counts 64.
  EXPECT_THAT(auth.ChargePublish(*caller, 64), IsOk());
  EXPECT_THAT(auth.ChargePublish(*caller, 36), IsOk());
  EXPECT_THAT(
      auth.ChargePublish(*caller, 1),
      StatusIs(absl::StatusCode::kResourceExhausted,
               AllOf(HasSubstr("token \"wire\""), HasSubstr("10 events/s"),
                     HasSubstr("burst 100"), HasSubstr("retry in"))));
  clock_.Advance(absl::Seconds(2));  // 20 events back
  EXPECT_THAT(auth.ChargePublish(*caller, 21),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(auth.ChargePublish(*caller, 20), IsOk());
  // The bucket never holds more than the burst.
  clock_.Advance(absl::Hours(1));
  EXPECT_THAT(auth.ChargePublish(*caller, 100), IsOk());
  EXPECT_THAT(auth.ChargePublish(*caller, 1),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST_F(AuthTest, RefundedEventsCanBePublishedAgain) {
  TokenSpec spec = Token("wire", "dw_wire", {Role::kPublish});
  spec.publish_events_per_second = 10;
  spec.publish_burst = 100;
  const Authenticator auth({spec}, &clock_);
  const Authenticator::Caller* caller =
      *auth.Authorize("Bearer dw_wire", Role::kPublish);
  EXPECT_THAT(auth.ChargePublish(*caller, 100), IsOk());
  EXPECT_THAT(auth.ChargePublish(*caller, 40),
              StatusIs(absl::StatusCode::kResourceExhausted));
  // The 100 were refused downstream (say, a full queue): the retry passes.
  Authenticator::RefundPublish(*caller, 100);
  EXPECT_THAT(auth.ChargePublish(*caller, 40), IsOk());
  // A refund never fills the bucket past the burst.
  Authenticator::RefundPublish(*caller, 1000);
  EXPECT_THAT(auth.ChargePublish(*caller, 100), IsOk());
  EXPECT_THAT(auth.ChargePublish(*caller, 1),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST_F(AuthTest, BatchLargerThanTheBurstIsRefusedAtOnce) {
  TokenSpec spec = Token("wire", "dw_wire", {Role::kPublish});
  spec.publish_events_per_second = 5;
  spec.publish_burst = 10;
  const Authenticator auth({spec}, &clock_);
  const Authenticator::Caller* caller =
      *auth.Authorize("Bearer dw_wire", Role::kPublish);
  EXPECT_THAT(auth.ChargePublish(*caller, 11),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("a batch of 11 events is over the burst of "
                                 "token \"wire\" (5 events/s, burst 10)")));
  // Nothing was taken.
  EXPECT_THAT(auth.ChargePublish(*caller, 10), IsOk());
}

TEST_F(AuthTest, TokenWithoutRateIsNotLimited) {
  const Authenticator auth({Token("wire", "dw_wire", {Role::kPublish})},
                           &clock_);
  const Authenticator::Caller* caller =
      *auth.Authorize("Bearer dw_wire", Role::kPublish);
  for (int i = 0; i < 100; ++i) {
    ASSERT_THAT(auth.ChargePublish(*caller, 1000), IsOk());
  }
}

TEST(TokenTest, NewTokensAreRandomAndHashAsHex) {
  const absl::StatusOr<std::string> a = NewToken();
  const absl::StatusOr<std::string> b = NewToken();
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_NE(*a, *b);
  // "dw_" + 43 characters of unpadded base64url (32 bytes).
  EXPECT_THAT(*a, ::testing::MatchesRegex("dw_[A-Za-z0-9_-]{43}"));
  EXPECT_EQ(Sha256Hex("test"),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
}

}  // namespace
}  // namespace dipwire::server

#ifndef DIPWIRE_TESTS_TESTING_STATUS_MATCHERS_H_
#define DIPWIRE_TESTS_TESTING_STATUS_MATCHERS_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace dipwire::testing {

// gMock matchers for absl::Status and absl::StatusOr<T> (model:
// google-cloud-cpp testing_util/status_matchers.h):
//
//   EXPECT_THAT(store->Append(...), IsOk());
//   EXPECT_THAT(Validate(e), StatusIs(absl::StatusCode::kInvalidArgument,
//                                     HasSubstr("events[1].trade.year")));

namespace internal {

inline const absl::Status& GetStatus(const absl::Status& status) {
  return status;
}
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

}  // namespace internal

MATCHER(IsOk, negation ? "is not OK" : "is OK") {
  const absl::Status& status = internal::GetStatus(arg);
  if (!status.ok()) *result_listener << "status is " << status;
  return status.ok();
}

MATCHER_P(StatusIs, code,
          std::string(negation ? "does not have" : "has") + " code " +
              absl::StatusCodeToString(code)) {
  const absl::Status& status = internal::GetStatus(arg);
  *result_listener << "status is " << status;
  return status.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher,
           std::string(negation ? "does not have" : "has") + " code " +
               absl::StatusCodeToString(code) + " and a matching message") {
  const absl::Status& status = internal::GetStatus(arg);
  *result_listener << "status is " << status;
  return status.code() == code &&
         ::testing::ExplainMatchResult(
             ::testing::SafeMatcherCast<const std::string&>(message_matcher),
             static_cast<std::string>(status.message()), result_listener);
}

}  // namespace dipwire::testing

#endif  // DIPWIRE_TESTS_TESTING_STATUS_MATCHERS_H_

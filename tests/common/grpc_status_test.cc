#include "common/grpc_status.h"

#include <array>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/support/status.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace dipwire {
namespace {

using ::dipwire::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::Not;

// Every canonical code but OK, with the gRPC code of the same name.
struct CodePair {
  absl::StatusCode absl_code;
  grpc::StatusCode grpc_code;
};

constexpr std::array<CodePair, 16> kErrorCodes = {{
    {absl::StatusCode::kCancelled, grpc::StatusCode::CANCELLED},
    {absl::StatusCode::kUnknown, grpc::StatusCode::UNKNOWN},
    {absl::StatusCode::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
    {absl::StatusCode::kDeadlineExceeded, grpc::StatusCode::DEADLINE_EXCEEDED},
    {absl::StatusCode::kNotFound, grpc::StatusCode::NOT_FOUND},
    {absl::StatusCode::kAlreadyExists, grpc::StatusCode::ALREADY_EXISTS},
    {absl::StatusCode::kPermissionDenied, grpc::StatusCode::PERMISSION_DENIED},
    {absl::StatusCode::kResourceExhausted,
     grpc::StatusCode::RESOURCE_EXHAUSTED},
    {absl::StatusCode::kFailedPrecondition,
     grpc::StatusCode::FAILED_PRECONDITION},
    {absl::StatusCode::kAborted, grpc::StatusCode::ABORTED},
    {absl::StatusCode::kOutOfRange, grpc::StatusCode::OUT_OF_RANGE},
    {absl::StatusCode::kUnimplemented, grpc::StatusCode::UNIMPLEMENTED},
    {absl::StatusCode::kInternal, grpc::StatusCode::INTERNAL},
    {absl::StatusCode::kUnavailable, grpc::StatusCode::UNAVAILABLE},
    {absl::StatusCode::kDataLoss, grpc::StatusCode::DATA_LOSS},
    {absl::StatusCode::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED},
}};

TEST(GrpcStatusTest, EveryCodeRoundTripsWithItsMessage) {
  // The 16 error codes here plus OK (OkMapsToOk): all 17 canonical codes.
  for (const CodePair& pair : kErrorCodes) {
    SCOPED_TRACE(absl::StatusCodeToString(pair.absl_code));
    const std::string message =
        absl::StrCat("events[1].trade.year: 1850 is not in 1900..2100 (",
                     absl::StatusCodeToString(pair.absl_code), ")");
    const absl::Status original(pair.absl_code, message);

    const grpc::Status on_the_wire = ToGrpcStatusVerbatim(original);
    EXPECT_EQ(on_the_wire.error_code(), pair.grpc_code);
    EXPECT_EQ(on_the_wire.error_message(), message);

    const absl::Status received = FromGrpcStatus(on_the_wire);
    EXPECT_EQ(received, original);
  }
}

TEST(GrpcStatusTest, OkMapsToOk) {
  const grpc::Status on_the_wire = ToGrpcStatus(absl::OkStatus());
  EXPECT_TRUE(on_the_wire.ok());
  EXPECT_EQ(on_the_wire.error_code(), grpc::StatusCode::OK);
  EXPECT_TRUE(ToGrpcStatusVerbatim(absl::OkStatus()).ok());
  EXPECT_THAT(FromGrpcStatus(grpc::Status::OK), IsOk());
}

TEST(GrpcStatusTest, ToGrpcStatusKeepsCodeAndMessageOfNonInternalErrors) {
  for (const CodePair& pair : kErrorCodes) {
    if (pair.absl_code == absl::StatusCode::kInternal) continue;
    SCOPED_TRACE(absl::StatusCodeToString(pair.absl_code));
    const grpc::Status on_the_wire =
        ToGrpcStatus(absl::Status(pair.absl_code, "events: need one"));
    EXPECT_EQ(on_the_wire.error_code(), pair.grpc_code);
    EXPECT_EQ(on_the_wire.error_message(), "events: need one");
  }
}

TEST(GrpcStatusTest, ToGrpcStatusHidesInternalDetail) {
  const grpc::Status on_the_wire = ToGrpcStatus(absl::InternalError(
      "sqlite: INSERT INTO events failed: disk I/O error at /var/lib/dipwire"));
  EXPECT_EQ(on_the_wire.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(on_the_wire.error_message(), Not(HasSubstr("sqlite")));
  EXPECT_THAT(on_the_wire.error_message(), Not(HasSubstr("/var/lib")));
  EXPECT_THAT(on_the_wire.error_message(), Not(HasSubstr("INSERT")));
  EXPECT_THAT(on_the_wire.error_message(), Not(::testing::IsEmpty()));
}

}  // namespace
}  // namespace dipwire

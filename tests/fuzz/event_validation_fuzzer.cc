// libFuzzer target for event validation (common/event_validation.h). Each
// input is read as a serialized PublishRequest, as the server receives one;
// when it parses, ValidatePublishRequest must answer OK, INVALID_ARGUMENT or
// RESOURCE_EXHAUSTED, with a message that is valid UTF-8: it travels in gRPC
// status text and in PublishResponse.error.message, a proto string field.

#include <cstddef>
#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/event_validation.h"
#include "dipwire/v1/alerts.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "tests/fuzz/fuzz_checks.h"

namespace dipwire {
namespace {

// A fixed ingest time, so that a run is reproducible: a few days after the
// newest report of the seed demo (deploy/demo/), as in its test.
absl::Time FixedNow() {
  return absl::FromCivil(absl::CivilSecond(2024, 4, 15, 0, 0, 0),
                         absl::UTCTimeZone());
}

void FuzzPublishRequest(const uint8_t* data, size_t size) {
  if (size > static_cast<size_t>(std::numeric_limits<int>::max())) return;
  v1::PublishRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return;
  const absl::Status status = ValidatePublishRequest(request, FixedNow());
  const absl::StatusCode code = status.code();
  fuzz::Check(code == absl::StatusCode::kOk ||
                  code == absl::StatusCode::kInvalidArgument ||
                  code == absl::StatusCode::kResourceExhausted,
              "ValidatePublishRequest returned an unexpected code",
              absl::CHexEscape(status.ToString()));
  fuzz::Check(fuzz::IsValidUtf8(status.message()),
              "ValidatePublishRequest's message is not valid UTF-8",
              absl::CHexEscape(status.message()));
}

}  // namespace
}  // namespace dipwire

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // Protobuf logs every string field that is not UTF-8 as it rejects the
  // message; at thousands of inputs a second that is only noise.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dipwire::FuzzPublishRequest(data, size);
  return 0;
}

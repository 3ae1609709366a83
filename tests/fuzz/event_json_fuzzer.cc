// libFuzzer target for the proto JSON helpers (common/proto_json.h). Each
// input is parsed as one JSON line of a DiplomaticEvent; an event that parses
// must print (ToJsonLine) to a line that parses back to an equal event, since
// the CLI prints events and alerts that scripts then read back. A line that
// does not parse must fail with INVALID_ARGUMENT.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/proto_json.h"
#include "dipwire/v1/events.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/fuzz/fuzz_checks.h"

namespace dipwire {
namespace {

void FuzzEventJson(absl::string_view line) {
  const absl::StatusOr<v1::DiplomaticEvent> event = ParseEventJson(line);
  if (!event.ok()) {
    fuzz::Check(event.status().code() == absl::StatusCode::kInvalidArgument,
                "ParseEventJson failed with a code other than "
                "INVALID_ARGUMENT",
                absl::StrCat(absl::CHexEscape(event.status().ToString()),
                             "\ninput: \"", absl::CHexEscape(line), "\""));
    return;
  }
  const std::string printed = ToJsonLine(*event);
  const absl::StatusOr<v1::DiplomaticEvent> reparsed = ParseEventJson(printed);
  fuzz::Check(reparsed.ok(), "ToJsonLine printed a line that does not parse",
              absl::StrCat(absl::CHexEscape(reparsed.status().ToString()),
                           "\ninput:   \"", absl::CHexEscape(line),
                           "\"\nprinted: \"", absl::CHexEscape(printed), "\""));
  fuzz::Check(
      google::protobuf::util::MessageDifferencer::Equals(*event, *reparsed),
      "the printed line parses to a different event",
      absl::StrCat("input:   \"", absl::CHexEscape(line), "\"\nprinted: \"",
                   absl::CHexEscape(printed), "\""));
}

}  // namespace
}  // namespace dipwire

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // Protobuf may log what it rejects; at thousands of inputs a second that is
  // only noise.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dipwire::FuzzEventJson(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}

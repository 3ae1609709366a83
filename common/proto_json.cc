#include "common/proto_json.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace dipwire {
namespace {

// Protobuf's syntax errors span several lines (the message, then the input
// around the error and a caret). Callers print errors as one line
// ("line 7: <reason>"), so keep the first line only; it says what is wrong.
std::string OneLineMessage(absl::string_view message) {
  const size_t newline = message.find_first_of("\r\n");
  if (newline != absl::string_view::npos) message = message.substr(0, newline);
  message = absl::StripAsciiWhitespace(message);
  // Errors at the root come with an empty path: ": Root element must be...".
  absl::ConsumePrefix(&message, ": ");
  if (message.empty()) return "invalid JSON";
  return std::string(message);
}

}  // namespace

absl::StatusOr<v1::DiplomaticEvent> ParseEventJson(absl::string_view line) {
  v1::DiplomaticEvent event;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(line.data(), line.size()), &event, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(OneLineMessage(
        absl::string_view(status.message().data(), status.message().size())));
  }
  return event;
}

std::string ToJsonLine(const google::protobuf::Message& message) {
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(
      message, &json, google::protobuf::util::JsonPrintOptions());
  if (status.ok()) return json;

  // Printing into a Struct lets protobuf do the string escaping.
  google::protobuf::Struct error;
  (*error.mutable_fields())["jsonError"].set_string_value(
      std::string(status.message().data(), status.message().size()));
  json.clear();
  if (!google::protobuf::util::MessageToJsonString(error, &json).ok()) {
    return R"({"jsonError":"unprintable message"})";
  }
  return json;
}

}  // namespace dipwire

// libFuzzer target for cursors and page tokens (server/cursor.h). The whole
// input is decoded as a cursor; the input up to its first newline is decoded
// as a page token for the filter after it. A decode that succeeds must be of
// the one canonical string that encoding its position makes; one that fails
// must fail with INVALID_ARGUMENT.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/cursor.h"
#include "tests/fuzz/fuzz_checks.h"

namespace dipwire::server {
namespace {

void CheckDecodeError(const absl::Status& status, absl::string_view what,
                      absl::string_view input) {
  fuzz::Check(status.code() == absl::StatusCode::kInvalidArgument,
              absl::StrCat(what,
                           " failed with a code other than "
                           "INVALID_ARGUMENT"),
              absl::StrCat(absl::CHexEscape(status.ToString()), "\ninput: \"",
                           absl::CHexEscape(input), "\""));
}

void FuzzCursor(absl::string_view text) {
  const absl::StatusOr<uint64_t> position = DecodeCursor(text);
  if (!position.ok()) {
    CheckDecodeError(position.status(), "DecodeCursor", text);
    return;
  }
  fuzz::Check(*position >= 1, "DecodeCursor returned position 0");
  fuzz::Check(EncodeCursor(*position) == text,
              "DecodeCursor accepted a string EncodeCursor does not make",
              absl::StrCat("input: \"", absl::CHexEscape(text), "\", position ",
                           *position));
  // Kinds are distinct: a cursor is never a page token.
  fuzz::Check(!DecodePageToken(text, "").ok(),
              "a cursor was accepted as a page token", text);
}

void FuzzPageToken(absl::string_view input) {
  const size_t newline = input.find('\n');
  const absl::string_view token = input.substr(0, newline);
  const absl::string_view filter = newline == absl::string_view::npos
                                       ? absl::string_view()
                                       : input.substr(newline + 1);
  const absl::StatusOr<uint64_t> position = DecodePageToken(token, filter);
  if (!position.ok()) {
    CheckDecodeError(position.status(), "DecodePageToken", input);
    return;
  }
  fuzz::Check(EncodePageToken(*position, filter) == token,
              "DecodePageToken accepted a string EncodePageToken does not "
              "make",
              absl::StrCat("input: \"", absl::CHexEscape(input),
                           "\", position ", *position));
  fuzz::Check(!DecodeCursor(token).ok(),
              "a page token was accepted as a cursor", token);
}

}  // namespace
}  // namespace dipwire::server

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  dipwire::server::FuzzCursor(input);
  dipwire::server::FuzzPageToken(input);
  return 0;
}

#include "server/cursor.h"

#include "absl/base/internal/endian.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace dipwire::server {
namespace {

// Layout before base64url (no padding): one kind byte, the position as 8
// big-endian bytes, then a 4-byte check value. Cursors and page tokens use
// different kind bytes so one is never accepted as the other.
constexpr char kCursorKind = 'c';
constexpr char kPageTokenKind = 'p';
constexpr size_t kPayloadSize = 1 + 8 + 4;

// FNV-1a, 32-bit: a stable check value (absl::Hash is seeded per process and
// must not be used for anything that outlives it).
uint32_t Fnv1a(absl::string_view data, uint32_t hash = 2166136261U) {
  for (char c : data) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 16777619U;
  }
  return hash;
}

std::string Encode(char kind, uint64_t position, absl::string_view binding) {
  std::string raw(kPayloadSize, '\0');
  raw[0] = kind;
  absl::big_endian::Store64(&raw[1], position);
  const uint32_t check =
      Fnv1a(binding, Fnv1a(absl::string_view(raw.data(), 9)));
  absl::big_endian::Store32(&raw[9], check);
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<uint64_t> Decode(char kind, absl::string_view text,
                                absl::string_view binding,
                                absl::string_view what) {
  std::string raw;
  // The decoder is lenient: it skips white space, accepts padding, and ignores
  // the 4 spare bits of the last character, so 16 different strings decode to
  // the same bytes. Accept only the one string Encode makes, so that a
  // mistyped cursor is rejected and each position has exactly one cursor.
  if (text.size() > 32 || !absl::WebSafeBase64Unescape(text, &raw) ||
      raw.size() != kPayloadSize || raw[0] != kind ||
      absl::WebSafeBase64Escape(raw) != text) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": \"", absl::CHexEscape(text.substr(0, 40)),
        "\" is not a dipwire ", kind == kCursorKind ? "cursor" : "page token",
        kind == kCursorKind ? " (use a cursor from an alert this server sent)"
                            : " (use next_page_token from the previous page)"));
  }
  const uint32_t check =
      Fnv1a(binding, Fnv1a(absl::string_view(raw.data(), 9)));
  if (absl::big_endian::Load32(&raw[9]) != check) {
    if (kind == kPageTokenKind) {
      return absl::InvalidArgumentError(
          absl::StrCat(what,
                       ": this page token was issued for a different filter; "
                       "start again without a page_token"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": \"", absl::CHexEscape(text),
                     "\" is damaged (check value mismatch)"));
  }
  const uint64_t position = absl::big_endian::Load64(&raw[1]);
  if (kind == kCursorKind && position == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": \"", text, "\" names no alert"));
  }
  return position;
}

}  // namespace

std::string EncodeCursor(uint64_t position) {
  return Encode(kCursorKind, position, "");
}

absl::StatusOr<uint64_t> DecodeCursor(absl::string_view cursor,
                                      absl::string_view what) {
  return Decode(kCursorKind, cursor, "", what);
}

absl::Status AlertsTrimmedError(absl::string_view what,
                                uint64_t trimmed_through) {
  const std::string oldest = EncodeCursor(trimmed_through);
  return absl::OutOfRangeError(absl::StrCat(
      what, ": the alerts up to cursor ", oldest,
      " were removed by retention (--retain-alerts); the oldest cursor still "
      "available is ",
      oldest, ": resume with after_cursor ", oldest,
      " (or from EARLIEST), losing the removed alerts"));
}

std::string EncodePageToken(uint64_t position, absl::string_view filter) {
  return Encode(kPageTokenKind, position, filter);
}

absl::StatusOr<uint64_t> DecodePageToken(absl::string_view token,
                                         absl::string_view filter) {
  return Decode(kPageTokenKind, token, filter, "page_token");
}

}  // namespace dipwire::server

#include "common/token.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace dipwire {
namespace {

constexpr int kTokenBytes = 32;

}  // namespace

absl::StatusOr<std::string> NewToken() {
  std::array<unsigned char, kTokenBytes> bytes{};
  if (RAND_bytes(bytes.data(), kTokenBytes) != 1) {
    return absl::InternalError("OpenSSL's random generator failed");
  }
  return absl::StrCat(
      "dw_", absl::WebSafeBase64Escape(absl::string_view(
                 reinterpret_cast<const char*>(bytes.data()), bytes.size())));
}

std::string Sha256(absl::string_view text) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(),
         digest.data());
  return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}

std::string Sha256Hex(absl::string_view token) {
  return absl::BytesToHexString(Sha256(token));
}

bool IsTokenName(absl::string_view name) {
  return !name.empty() && name.size() <= 64 &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                  c == '.' || c == '_' || c == '-';
         });
}

}  // namespace dipwire

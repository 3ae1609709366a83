#ifndef DIPWIRE_COMMON_TOKEN_H_
#define DIPWIRE_COMMON_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dipwire {

// Bearer tokens (README.md, "Security: TLS and tokens"): how they are made
// and how the server recognizes them without storing them. Pure functions,
// safe for concurrent use.

// A fresh random token: "dw_" + unpadded base64url of 32 bytes from
// OpenSSL's RAND_bytes (256 bits). INTERNAL when the random generator
// fails (then no token is returned at all).
absl::StatusOr<std::string> NewToken();

// The 32 bytes of the SHA-256 of `text`.
std::string Sha256(absl::string_view text);

// The SHA-256 of `token`, as 64 lower-case hex digits: what the server's
// token configuration holds instead of the token.
std::string Sha256Hex(absl::string_view token);

// True when `name` may name a token: 1 to 64 of A-Z, a-z, 0-9, '.', '_',
// '-' (what the config file and `dipwire tokens new` accept).
bool IsTokenName(absl::string_view name);

}  // namespace dipwire

#endif  // DIPWIRE_COMMON_TOKEN_H_

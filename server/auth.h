#ifndef DIPWIRE_SERVER_AUTH_H_
#define DIPWIRE_SERVER_AUTH_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace dipwire::server {

// What a bearer token may do (DESIGN.md, "Roles"). kAdmin may do
// everything.
enum class Role { kPublish, kSubscribe, kAdmin };

// "publish", "subscribe", "admin".
absl::string_view RoleName(Role role);

// One configured token, checked (see TokenSpecs in server_config.h).
struct TokenSpec {
  // Who holds the token; shown in errors and logs (the token never is).
  std::string name;
  // The 32 bytes of the token's SHA-256.
  std::string sha256;
  std::vector<Role> roles;
  // The publish rate limit: a bucket of `publish_burst` events refilled at
  // `publish_events_per_second`. 0: not limited.
  double publish_events_per_second = 0;
  int64_t publish_burst = 0;
};

// Checks bearer tokens against the configured ones and keeps each token's
// publish rate bucket. Domain code: it sees the `authorization` metadata's
// value, never a gRPC type.
//
// A token is recognized by its SHA-256 alone, compared with every
// configured hash in constant time (CRYPTO_memcmp, and no early exit), so
// neither the comparison's timing nor the configuration reveals a token.
//
// Safe for concurrent use.
class Authenticator {
 public:
  // The holder of one configured token.
  class Caller;

  // `clock` (for the rate buckets) must outlive the Authenticator.
  Authenticator(const std::vector<TokenSpec>& tokens, Clock* clock);
  ~Authenticator();
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  // The caller whose `authorization` metadata value is `authorization`
  // ("Bearer <token>"; empty when the call had none), if it holds `role`.
  // UNAUTHENTICATED when the token is missing, malformed or unknown;
  // PERMISSION_DENIED when the token is known but lacks the role. The
  // messages say which, name the role, and never quote the token. The
  // result lives as long as the Authenticator. Does not block.
  absl::StatusOr<const Caller*> Authorize(absl::string_view authorization,
                                          Role role) const;

  // The caller whose `authorization` metadata value holds any configured
  // token, whatever its roles (what reflection needs, DESIGN.md "Roles").
  // UNAUTHENTICATED when the token is missing, malformed or unknown, with
  // messages like Authorize's. Does not block.
  absl::StatusOr<const Caller*> Authenticate(
      absl::string_view authorization) const;

  // The name of the token in `authorization`, whatever its roles; empty
  // when the token is missing, malformed or unknown. For log lines.
  std::string TokenName(absl::string_view authorization) const;

  // Takes `events` from `caller`'s publish bucket, or returns
  // RESOURCE_EXHAUSTED naming the token, its rate and burst (and takes
  // nothing) when the bucket holds fewer. A token without a rate limit is
  // always OK. Takes a short lock; does not block otherwise.
  absl::Status ChargePublish(const Caller& caller, int64_t events) const;

  // Gives back `events` a charge took for a request that stored nothing
  // (refused by the pipeline: a conflict, a full queue, a failed commit), so
  // that a publisher retrying after backpressure is not charged twice. The
  // bucket still holds at most the burst.
  static void RefundPublish(const Caller& caller, int64_t events);

 private:
  // The caller holding the bearer token of `authorization`, or
  // UNAUTHENTICATED ending in `needs` (what the call needs).
  absl::StatusOr<const Caller*> Identify(absl::string_view authorization,
                                         absl::string_view needs) const;

  // The caller holding the bearer token of `authorization`, or null.
  const Caller* Find(absl::string_view authorization) const;

  Clock* const clock_;
  std::vector<std::unique_ptr<Caller>> callers_;
};

class Authenticator::Caller {
 public:
  explicit Caller(TokenSpec spec, absl::Time now);
  const TokenSpec& spec() const { return spec_; }

 private:
  friend class Authenticator;
  const TokenSpec spec_;
  mutable absl::Mutex mu_;
  // Events the bucket holds, at `refilled_` (a fraction counts).
  mutable double available_ ABSL_GUARDED_BY(mu_);
  mutable absl::Time refilled_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_AUTH_H_

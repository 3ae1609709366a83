#include "server/auth.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "common/token.h"

namespace dipwire::server {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

bool HasRole(const TokenSpec& spec, Role role) {
  return std::any_of(spec.roles.begin(), spec.roles.end(), [role](Role held) {
    return held == role || held == Role::kAdmin;
  });
}

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kPublish:
      return "publish";
    case Role::kSubscribe:
      return "subscribe";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

Authenticator::Caller::Caller(TokenSpec spec, absl::Time now)
    : spec_(std::move(spec)),
      available_(static_cast<double>(spec_.publish_burst)),
      refilled_(now) {}

Authenticator::Authenticator(const std::vector<TokenSpec>& tokens, Clock* clock)
    : clock_(clock) {
  const absl::Time now = clock_->Now();
  for (const TokenSpec& spec : tokens) {
    callers_.push_back(std::make_unique<Caller>(spec, now));
  }
}

Authenticator::~Authenticator() = default;

absl::StatusOr<const Authenticator::Caller*> Authenticator::Authorize(
    absl::string_view authorization, Role role) const {
  DIPWIRE_ASSIGN_OR_RETURN(
      const Caller* found,
      Identify(
          authorization,
          absl::StrCat(" (this call needs a token with the ", RoleName(role),
                       " role as \"authorization: Bearer <token>\" "
                       "metadata)")));
  if (!HasRole(found->spec(), role)) {
    return absl::PermissionDeniedError(
        absl::StrCat("token \"", found->spec().name, "\" does not have the ",
                     RoleName(role), " role"));
  }
  return found;
}

absl::StatusOr<const Authenticator::Caller*> Authenticator::Authenticate(
    absl::string_view authorization) const {
  return Identify(authorization,
                  " (this call needs a valid token, of any role, as "
                  "\"authorization: Bearer <token>\" metadata)");
}

absl::StatusOr<const Authenticator::Caller*> Authenticator::Identify(
    absl::string_view authorization, absl::string_view needs) const {
  if (authorization.empty()) {
    return absl::UnauthenticatedError(absl::StrCat("no bearer token", needs));
  }
  if (authorization.size() <= kBearer.size() ||
      !absl::StartsWithIgnoreCase(authorization, kBearer)) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the authorization metadata is not a bearer token", needs));
  }
  const Caller* found = Find(authorization);
  if (found == nullptr) {
    return absl::UnauthenticatedError(absl::StrCat("unknown token", needs));
  }
  return found;
}

const Authenticator::Caller* Authenticator::Find(
    absl::string_view authorization) const {
  if (authorization.size() <= kBearer.size() ||
      !absl::StartsWithIgnoreCase(authorization, kBearer)) {
    return nullptr;
  }
  const std::string hash =
      Sha256(absl::StripAsciiWhitespace(authorization.substr(kBearer.size())));
  // Every hash is compared, whatever matched before.
  const Caller* found = nullptr;
  for (const std::unique_ptr<Caller>& caller : callers_) {
    if (CRYPTO_memcmp(hash.data(), caller->spec().sha256.data(), hash.size()) ==
        0) {
      found = caller.get();
    }
  }
  return found;
}

std::string Authenticator::TokenName(absl::string_view authorization) const {
  const Caller* caller = Find(authorization);
  return caller == nullptr ? "" : caller->spec().name;
}

absl::Status Authenticator::ChargePublish(const Caller& caller,
                                          int64_t events) const {
  const TokenSpec& spec = caller.spec();
  if (spec.publish_events_per_second <= 0) return absl::OkStatus();
  // Only for the messages: not formatted on the way that succeeds.
  const auto limit = [&spec] {
    return absl::StrFormat("token \"%s\" (%g events/s, burst %d)", spec.name,
                           spec.publish_events_per_second, spec.publish_burst);
  };
  if (events > spec.publish_burst) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a batch of ", events, " events is over the burst of ",
                     limit(), ": send smaller batches"));
  }
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&caller.mu_);
  if (now > caller.refilled_) {
    caller.available_ = std::min(
        static_cast<double>(spec.publish_burst),
        caller.available_ + absl::ToDoubleSeconds(now - caller.refilled_) *
                                spec.publish_events_per_second);
    caller.refilled_ = now;
  }
  const auto wanted = static_cast<double>(events);
  if (caller.available_ < wanted) {
    const double wait_seconds =
        (wanted - caller.available_) / spec.publish_events_per_second;
    return absl::ResourceExhaustedError(
        absl::StrCat("over the publish rate of ", limit(), "; retry in ",
                     absl::FormatDuration(
                         absl::Milliseconds(std::ceil(wait_seconds * 1000)))));
  }
  caller.available_ -= wanted;
  return absl::OkStatus();
}

void Authenticator::RefundPublish(const Caller& caller, int64_t events) {
  const TokenSpec& spec = caller.spec();
  if (spec.publish_events_per_second <= 0) return;
  absl::MutexLock lock(&caller.mu_);
  caller.available_ = std::min(static_cast<double>(spec.publish_burst),
                               caller.available_ + static_cast<double>(events));
}

}  // namespace dipwire::server

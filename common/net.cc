#include "common/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dipwire {
namespace {

// The host of "HOST:PORT", "[HOST]:PORT" or a bare "HOST" (a name with one
// colon at most, or a bracketed IPv6 address).
absl::string_view HostOf(absl::string_view address) {
  if (absl::ConsumePrefix(&address, "[")) {
    const size_t close = address.find(']');
    return close == absl::string_view::npos ? absl::string_view()
                                            : address.substr(0, close);
  }
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return address;
  // An unbracketed IPv6 address without a port ("::1").
  if (address.find(':') != colon) return address;
  return address.substr(0, colon);
}

}  // namespace

bool IsLoopbackHost(absl::string_view host) {
  // Names are case-insensitive, and "localhost." is the same name rooted.
  absl::ConsumeSuffix(&host, ".");
  if (absl::EqualsIgnoreCase(host, "localhost")) return true;
  const std::string text(host);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) != 1) return false;
  // ::1, or an IPv4 loopback address mapped into IPv6 (::ffff:127.0.0.1).
  return IN6_IS_ADDR_LOOPBACK(&v6) ||
         (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
}

bool IsLocalTarget(absl::string_view target) {
  if (absl::StartsWith(target, "unix:") ||
      absl::StartsWith(target, "unix-abstract:")) {
    return true;
  }
  if (absl::ConsumePrefix(&target, "ipv4:") ||
      absl::ConsumePrefix(&target, "ipv6:")) {
    const std::vector<absl::string_view> addresses =
        absl::StrSplit(target, ',');
    return !target.empty() &&
           std::all_of(addresses.begin(), addresses.end(),
                       [](absl::string_view address) {
                         return IsLoopbackHost(HostOf(address));
                       });
  }
  if (absl::ConsumePrefix(&target, "dns:")) {
    // "dns:///HOST:PORT" or "dns://AUTHORITY/HOST:PORT": the name after the
    // authority is what is resolved.
    if (absl::ConsumePrefix(&target, "//")) {
      const size_t slash = target.find('/');
      if (slash == absl::string_view::npos) return false;
      target.remove_prefix(slash + 1);
    }
  }
  const absl::string_view host = HostOf(target);
  return !host.empty() && IsLoopbackHost(host);
}

}  // namespace dipwire

#ifndef DIPWIRE_COMMON_NET_H_
#define DIPWIRE_COMMON_NET_H_

#include "absl/strings/string_view.h"

namespace dipwire {

// True for "localhost" (any case, or "localhost."), an IPv4 address in
// 127.0.0.0/8 and ::1: a host
// name or address whose traffic never leaves the machine.
bool IsLoopbackHost(absl::string_view host);

// True when every address of the gRPC target `target` is on this machine:
// a Unix socket ("unix:PATH", "unix-abstract:NAME"), or loopback hosts, as
// in "127.0.0.1:50051", "localhost:50051", "[::1]:50051",
// "dns:///localhost:50051" or "ipv4:127.0.0.1:1,127.0.0.2:2". Anything it
// cannot read counts as remote.
bool IsLocalTarget(absl::string_view target);

}  // namespace dipwire

#endif  // DIPWIRE_COMMON_NET_H_

#ifndef DIPWIRE_COMMON_GRPC_STATUS_H_
#define DIPWIRE_COMMON_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace dipwire {

// The one place that converts between absl::Status (used everywhere inside
// dipwire) and grpc::Status (used only at the RPC edge).
//
// ToGrpcStatus keeps the code and message, except that an INTERNAL status
// reaches the client as generic text: its detail (which may describe storage
// internals) is for the server's log, which the caller writes.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The inverse, for the client side: keeps code and message as received.
absl::Status FromGrpcStatus(const grpc::Status& status);

// Like ToGrpcStatus but keeps an INTERNAL message verbatim. For tests of the
// mapping and for statuses whose message is known to be safe to show.
grpc::Status ToGrpcStatusVerbatim(const absl::Status& status);

}  // namespace dipwire

#endif  // DIPWIRE_COMMON_GRPC_STATUS_H_

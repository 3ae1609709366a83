#ifndef DIPWIRE_SERVER_CALL_LOG_H_
#define DIPWIRE_SERVER_CALL_LOG_H_

#include "absl/strings/string_view.h"
#include "grpcpp/support/server_interceptor.h"

namespace dipwire::server {

// Logs one line per finished gRPC call (README.md, "Operations"), with the
// fields method, peer, code, ms and, once authentication has named the
// caller, token: the token's name from the call's AuthContext property
// kTokenNameProperty, never the token. A call that succeeds is logged at
// debug level, one that fails at info (INTERNAL at error). Request and
// response messages and metadata are never logged.
//
// Install with ServerBuilder::experimental().SetInterceptorCreators.
// Thread-safe.
class CallLogFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // The AuthContext property that holds the name of the caller's token.
  static constexpr absl::string_view kTokenNameProperty = "dipwire_token_name";

  // gRPC takes ownership of the interceptor and deletes it after the call.
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;
};

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_CALL_LOG_H_

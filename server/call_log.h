#ifndef DIPWIRE_SERVER_CALL_LOG_H_
#define DIPWIRE_SERVER_CALL_LOG_H_

#include "grpcpp/support/server_interceptor.h"
#include "server/auth.h"

namespace dipwire::server {

// Logs one line per finished gRPC call (README.md, "Operations"), with the
// fields method, peer, code, ms and, when tokens are configured and the
// call carried a known one, token: the token's name (never the token).
// A call that succeeds is logged at
// debug level, one that fails at info (INTERNAL at error). Request and
// response messages and metadata are never logged.
//
// Install with ServerBuilder::experimental().SetInterceptorCreators.
// Thread-safe.
class CallLogFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `auth` names the callers' tokens; null when no token is configured.
  // It must outlive the server.
  explicit CallLogFactory(const Authenticator* auth) : auth_(auth) {}

  // gRPC takes ownership of the interceptor and deletes it after the call.
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  const Authenticator* const auth_;
};

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_CALL_LOG_H_

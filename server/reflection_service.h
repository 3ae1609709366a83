#ifndef DIPWIRE_SERVER_REFLECTION_SERVICE_H_
#define DIPWIRE_SERVER_REFLECTION_SERVICE_H_

#include <string>
#include <vector>

#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "server/auth.h"

namespace dipwire::server {

// grpc.reflection.v1alpha.ServerReflection (what grpcurl asks), on the
// callback API, answered from the generated descriptor pool. dipwire's own
// rather than gRPC's plugin so that reflection checks a token like every
// dipwire call: with `auth` set, a call needs any valid token, whatever its
// roles (DESIGN.md, "Roles"), or ends UNAUTHENTICATED before reading a
// request; with `auth` null it answers everyone.
//
// Each request is answered by one response, in order, as gRPC's own
// implementation answers it: files come with every file they import, each
// file sent once per stream; an unknown file, symbol, type or extension is
// an error_response with NOT_FOUND, a request without a question one with
// INVALID_ARGUMENT.
//
// Does not take ownership of `auth`, which must outlive the service (and the
// grpc::Server it is registered with). Safe for concurrent use.
class ReflectionService final
    : public grpc::reflection::v1alpha::ServerReflection::CallbackService {
 public:
  // `services`: the full names list_services answers with.
  ReflectionService(std::vector<std::string> services,
                    const Authenticator* auth);

  grpc::ServerBidiReactor<grpc::reflection::v1alpha::ServerReflectionRequest,
                          grpc::reflection::v1alpha::ServerReflectionResponse>*
  ServerReflectionInfo(grpc::CallbackServerContext* context) override;

 private:
  const std::vector<std::string> services_;
  const Authenticator* const auth_;
};

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_REFLECTION_SERVICE_H_

#include "server/call_log.h"

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "grpcpp/grpcpp.h"

namespace dipwire::server {
namespace {

// gRPC's name of a status code, as clients see it ("INVALID_ARGUMENT").
std::string CodeName(grpc::StatusCode code) {
  return absl::AsciiStrToUpper(absl::StatusCodeToString(
      static_cast<absl::StatusCode>(static_cast<int>(code))));
}

class CallLog final : public grpc::experimental::Interceptor {
 public:
  CallLog(grpc::experimental::ServerRpcInfo* info, const Authenticator* auth)
      : info_(info), auth_(auth), start_(std::chrono::steady_clock::now()) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      Log(methods->GetSendStatus());
    }
    methods->Proceed();
  }

 private:
  void Log(const grpc::Status& status) {
    const LogLevel level = status.ok() ? LogLevel::kDebug
                           : status.error_code() == grpc::StatusCode::INTERNAL
                               ? LogLevel::kError
                               : LogLevel::kInfo;
    if (!LogLevelEnabled(level)) return;
    grpc::ServerContextBase* context = info_->server_context();
    LogFields fields = {
        {"method", info_->method()},
        {"peer", context->peer()},
        {"code", CodeName(status.error_code())},
        {"ms",
         absl::StrCat(std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - start_)
                          .count())}};
    if (auth_ != nullptr) {
      const auto& metadata = context->client_metadata();
      const auto found = metadata.find("authorization");
      if (found != metadata.end()) {
        std::string name = auth_->TokenName(
            absl::string_view(found->second.data(), found->second.size()));
        if (!name.empty()) fields.emplace_back("token", std::move(name));
      }
    }
    internal::LogLine(level, __FILE__, __LINE__, std::move(fields)).stream()
        << (status.ok()
                ? "call finished"
                : absl::StrCat("call failed: ", status.error_message()));
  }

  grpc::experimental::ServerRpcInfo* const info_;
  const Authenticator* const auth_;
  const std::chrono::steady_clock::time_point start_;
};

}  // namespace

grpc::experimental::Interceptor* CallLogFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new CallLog(info, auth_);  // NOLINT(cppcoreguidelines-owning-memory)
}

}  // namespace dipwire::server

#include "server/reflection_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/grpc_status.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"

namespace dipwire::server {
namespace {

using ::google::protobuf::DescriptorPool;
using ::google::protobuf::FileDescriptor;
using ::grpc::reflection::v1alpha::ServerReflectionRequest;
using ::grpc::reflection::v1alpha::ServerReflectionResponse;

// Sets `response`'s error_response.
void SetError(grpc::StatusCode code, absl::string_view message,
              ServerReflectionResponse* response) {
  response->mutable_error_response()->set_error_code(static_cast<int>(code));
  response->mutable_error_response()->set_error_message(std::string(message));
}

// One ServerReflectionInfo stream: reads a request, writes its answer,
// reads the next, until the client is done. Deletes itself when the call
// is done.
class InfoReactor final
    : public grpc::ServerBidiReactor<ServerReflectionRequest,
                                     ServerReflectionResponse> {
 public:
  // `services` must outlive the reactor.
  InfoReactor(const std::vector<std::string>* services,
              const absl::Status& authorized)
      : services_(services) {
    if (!authorized.ok()) {
      Finish(ToGrpcStatus(authorized));
      return;
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client is done (or gone)
      Finish(grpc::Status::OK);
      return;
    }
    response_.Clear();
    Answer(request_, &response_);
    StartWrite(&response_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the call ended"));
      return;
    }
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  void Answer(const ServerReflectionRequest& request,
              ServerReflectionResponse* response) {
    response->set_valid_host(request.host());
    *response->mutable_original_request() = request;
    const DescriptorPool* pool = DescriptorPool::generated_pool();
    switch (request.message_request_case()) {
      case ServerReflectionRequest::kListServices:
        for (const std::string& name : *services_) {
          response->mutable_list_services_response()->add_service()->set_name(
              name);
        }
        return;
      case ServerReflectionRequest::kFileByFilename:
        AddFile(pool->FindFileByName(request.file_by_filename()),
                "File not found.", response);
        return;
      case ServerReflectionRequest::kFileContainingSymbol:
        AddFile(
            pool->FindFileContainingSymbol(request.file_containing_symbol()),
            "Symbol not found.", response);
        return;
      case ServerReflectionRequest::kFileContainingExtension: {
        const auto& extension = request.file_containing_extension();
        const google::protobuf::Descriptor* type =
            pool->FindMessageTypeByName(extension.containing_type());
        if (type == nullptr) {
          SetError(grpc::StatusCode::NOT_FOUND, "Type not found.", response);
          return;
        }
        const google::protobuf::FieldDescriptor* field =
            pool->FindExtensionByNumber(type, extension.extension_number());
        if (field == nullptr) {
          SetError(grpc::StatusCode::NOT_FOUND, "Extension not found.",
                   response);
          return;
        }
        AddFile(field->file(), "Extension not found.", response);
        return;
      }
      case ServerReflectionRequest::kAllExtensionNumbersOfType: {
        const std::string& name = request.all_extension_numbers_of_type();
        const google::protobuf::Descriptor* type =
            pool->FindMessageTypeByName(name);
        if (type == nullptr) {
          SetError(grpc::StatusCode::NOT_FOUND, "Type not found.", response);
          return;
        }
        std::vector<const google::protobuf::FieldDescriptor*> extensions;
        pool->FindAllExtensions(type, &extensions);
        auto* numbers = response->mutable_all_extension_numbers_response();
        numbers->set_base_type_name(name);
        for (const google::protobuf::FieldDescriptor* field : extensions) {
          numbers->add_extension_number(field->number());
        }
        return;
      }
      case ServerReflectionRequest::MESSAGE_REQUEST_NOT_SET:
        break;
    }
    SetError(grpc::StatusCode::INVALID_ARGUMENT,
             "the request asks nothing (no message_request is set)", response);
  }

  // Sets `response`'s file_descriptor_response to `file` and the files it
  // imports, transitively, leaving out those already sent on this stream;
  // or, when `file` is null, an error_response NOT_FOUND with `not_found`.
  void AddFile(const FileDescriptor* file, absl::string_view not_found,
               ServerReflectionResponse* response) {
    if (file == nullptr) {
      SetError(grpc::StatusCode::NOT_FOUND, not_found, response);
      return;
    }
    auto* files = response->mutable_file_descriptor_response();
    std::vector<const FileDescriptor*> pending = {file};
    while (!pending.empty()) {
      const FileDescriptor* next = pending.back();
      pending.pop_back();
      if (!sent_.insert(next->name()).second) continue;
      google::protobuf::FileDescriptorProto proto;
      next->CopyTo(&proto);
      proto.SerializeToString(files->add_file_descriptor_proto());
      // In reverse, so that the first import is sent first.
      for (int i = next->dependency_count() - 1; i >= 0; --i) {
        pending.push_back(next->dependency(i));
      }
    }
  }

  const std::vector<std::string>* const services_;
  ServerReflectionRequest request_;
  ServerReflectionResponse response_;
  // The names of the files sent on this stream.
  absl::flat_hash_set<std::string> sent_;
};

}  // namespace

ReflectionService::ReflectionService(std::vector<std::string> services,
                                     const Authenticator* auth)
    : services_(std::move(services)), auth_(auth) {}

grpc::ServerBidiReactor<ServerReflectionRequest, ServerReflectionResponse>*
ReflectionService::ServerReflectionInfo(grpc::CallbackServerContext* context) {
  absl::Status authorized = absl::OkStatus();
  if (auth_ != nullptr) {
    const auto& metadata = context->client_metadata();
    const auto found = metadata.find("authorization");
    const absl::string_view authorization =
        found == metadata.end()
            ? absl::string_view()
            : absl::string_view(found->second.data(), found->second.size());
    authorized = auth_->Authenticate(authorization).status();
  }
  return new InfoReactor(&services_, authorized);
}

}  // namespace dipwire::server

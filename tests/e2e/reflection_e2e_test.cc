// gRPC server reflection (grpc.reflection.v1alpha, dipwired's own
// implementation, server/reflection_service.h) on the real dipwired, through a
// client of our own: what grpcurl does to list and call the API without a
// .proto file at hand.

#include <csignal>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/token.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/descriptor_database.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/dipwired_process.h"
#include "tests/testing/e2e_fixture.h"

namespace dipwire {
namespace {

using ::dipwire::testing::DipwiredTest;
using ::dipwire::testing::NewTempDir;
using ::grpc::reflection::v1alpha::ServerReflection;
using ::grpc::reflection::v1alpha::ServerReflectionRequest;
using ::grpc::reflection::v1alpha::ServerReflectionResponse;
using ::testing::IsSupersetOf;

class ReflectionTest : public DipwiredTest {
 protected:
  // Opens one ServerReflectionInfo stream to the server, with `token` as a
  // bearer token unless it is empty.
  void OpenStream(const std::string& token = "") {
    channel_ =
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
    stub_ = ServerReflection::NewStub(channel_);
    context_ = std::make_unique<grpc::ClientContext>();
    context_->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    if (!token.empty()) {
      context_->AddMetadata("authorization", absl::StrCat("Bearer ", token));
    }
    stream_ = stub_->ServerReflectionInfo(context_.get());
  }

  // Sends `request` on the stream and reads its answer.
  ServerReflectionResponse Ask(const ServerReflectionRequest& request) {
    ServerReflectionResponse response;
    EXPECT_TRUE(stream_->Write(request));
    EXPECT_TRUE(stream_->Read(&response));
    return response;
  }

  void TearDown() override {
    if (stream_ != nullptr) {
      stream_->WritesDone();
      EXPECT_TRUE(stream_->Finish().ok());
    }
    // An open connection would hold up the server's shutdown; the context
    // holds the call, and the call the connection.
    stream_.reset();
    context_.reset();
    stub_.reset();
    channel_.reset();
    DipwiredTest::TearDown();
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<ServerReflection::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReaderWriter<ServerReflectionRequest,
                                           ServerReflectionResponse>>
      stream_;
};

TEST_F(ReflectionTest, ListsTheServices) {
  OpenStream();
  ServerReflectionRequest request;
  request.set_list_services("*");
  const ServerReflectionResponse response = Ask(request);
  ASSERT_TRUE(response.has_list_services_response()) << response.DebugString();
  std::vector<std::string> names;
  for (const auto& service : response.list_services_response().service()) {
    names.push_back(service.name());
  }
  EXPECT_THAT(names,
              IsSupersetOf({"dipwire.v1.AlertService", "grpc.health.v1.Health",
                            "grpc.reflection.v1alpha.ServerReflection"}));
}

TEST_F(ReflectionTest, ResolvesTheAlertServiceWithItsMessages) {
  OpenStream();
  ServerReflectionRequest request;
  request.set_file_containing_symbol("dipwire.v1.AlertService");
  const ServerReflectionResponse response = Ask(request);
  ASSERT_TRUE(response.has_file_descriptor_response())
      << response.DebugString();

  // The answer carries the file and every file it imports (not yet sent on
  // this stream), enough for a pool of our own to resolve the API.
  google::protobuf::SimpleDescriptorDatabase database;
  for (const std::string& bytes :
       response.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(file.ParseFromString(bytes));
    ASSERT_TRUE(database.Add(file)) << file.name();
  }
  google::protobuf::DescriptorPool pool(&database);
  const google::protobuf::ServiceDescriptor* service =
      pool.FindServiceByName("dipwire.v1.AlertService");
  ASSERT_NE(service, nullptr);
  const google::protobuf::MethodDescriptor* publish =
      service->FindMethodByName("Publish");
  ASSERT_NE(publish, nullptr);
  EXPECT_EQ(publish->input_type()->full_name(), "dipwire.v1.PublishRequest");
  const google::protobuf::MethodDescriptor* subscribe =
      service->FindMethodByName("Subscribe");
  ASSERT_NE(subscribe, nullptr);
  EXPECT_TRUE(subscribe->server_streaming());
  // A message from another file (events.proto), with a well-known type.
  const google::protobuf::Descriptor* event =
      pool.FindMessageTypeByName("dipwire.v1.DiplomaticEvent");
  ASSERT_NE(event, nullptr);
  const google::protobuf::FieldDescriptor* occurred_at =
      event->FindFieldByName("occurred_at");
  ASSERT_NE(occurred_at, nullptr);
  EXPECT_EQ(occurred_at->message_type()->full_name(),
            "google.protobuf.Timestamp");
}

TEST_F(ReflectionTest, UnknownSymbolIsAnErrorResponse) {
  OpenStream();
  ServerReflectionRequest request;
  request.set_file_containing_symbol("dipwire.v1.NoSuchService");
  const ServerReflectionResponse response = Ask(request);
  ASSERT_TRUE(response.has_error_response()) << response.DebugString();
  EXPECT_EQ(response.error_response().error_code(),
            static_cast<int>(grpc::StatusCode::NOT_FOUND));
}

TEST_F(ReflectionTest, FileByFilenameSendsTheFileAndItsImports) {
  OpenStream();
  ServerReflectionRequest request;
  request.set_file_by_filename("dipwire/v1/alerts.proto");
  const ServerReflectionResponse response = Ask(request);
  ASSERT_TRUE(response.has_file_descriptor_response())
      << response.DebugString();
  std::vector<std::string> names;
  for (const std::string& bytes :
       response.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(file.ParseFromString(bytes));
    names.push_back(file.name());
  }
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front(), "dipwire/v1/alerts.proto");
  EXPECT_THAT(names, IsSupersetOf({"dipwire/v1/events.proto",
                                   "google/protobuf/timestamp.proto"}));
  // Each file once.
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(),
            names.size());

  ServerReflectionRequest missing;
  missing.set_file_by_filename("dipwire/v1/no_such_file.proto");
  const ServerReflectionResponse error = Ask(missing);
  ASSERT_TRUE(error.has_error_response()) << error.DebugString();
  EXPECT_EQ(error.error_response().error_code(),
            static_cast<int>(grpc::StatusCode::NOT_FOUND));
}

// With tokens configured, reflection takes any valid token, whatever its
// roles (DESIGN.md, "Roles"), and refuses a call without one.
class ReflectionWithTokensTest : public ReflectionTest {
 protected:
  static constexpr absl::string_view kToken = "dw_test-reflection-publish";

  void SetUp() override {
    ReflectionTest::SetUp();
    const std::string config =
        NewTempDir("reflection-config") + "/config.txtpb";
    {
      std::ofstream file(config);
      file << R"(auth { tokens { name: "publisher" sha256: ")"
           << Sha256Hex(kToken) << "\" roles: [PUBLISH] } }\n";
      ASSERT_TRUE(file.good());
    }
    StopServer(SIGTERM);  // ReflectionTest's server, which has no token
    StartServer({"--config", config});
  }

  // Asks for the services on a stream opened with `token`, and returns how
  // the call ended.
  grpc::Status ListWith(const std::string& token) {
    OpenStream(token);
    ServerReflectionRequest request;
    request.set_list_services("*");
    ServerReflectionResponse response;
    stream_->Write(request);
    EXPECT_FALSE(stream_->Read(&response));
    grpc::Status status = stream_->Finish();
    stream_.reset();  // finished: TearDown must not finish it again
    return status;
  }
};

TEST_F(ReflectionWithTokensTest, AnyValidTokenListsTheServices) {
  OpenStream(std::string(kToken));
  ServerReflectionRequest request;
  request.set_list_services("*");
  const ServerReflectionResponse response = Ask(request);
  ASSERT_TRUE(response.has_list_services_response()) << response.DebugString();
  std::vector<std::string> names;
  for (const auto& service : response.list_services_response().service()) {
    names.push_back(service.name());
  }
  EXPECT_THAT(names, IsSupersetOf({"dipwire.v1.AlertService"}));
}

TEST_F(ReflectionWithTokensTest, NoTokenIsUnauthenticated) {
  const grpc::Status status = ListWith("");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << status.error_message();
}

TEST_F(ReflectionWithTokensTest, UnknownTokenIsUnauthenticated) {
  const grpc::Status status = ListWith("dw_test-not-a-configured-token");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << status.error_message();
}

}  // namespace
}  // namespace dipwire

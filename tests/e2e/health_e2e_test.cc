// grpc.health.v1 on the real dipwired: SERVING once it listens (the store is
// open and the log replayed), NOT_SERVING as soon as its shutdown begins.

#include <csignal>
#include <memory>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/e2e_fixture.h"
#include "tests/testing/status_matchers.h"

namespace dipwire {
namespace {

using ::dipwire::testing::DipwiredTest;
using ::dipwire::testing::IsOk;
using ::dipwire::testing::StatusIs;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

class HealthTest : public DipwiredTest {};

TEST_F(HealthTest, ServerAndAlertServiceAreServingOnceTheServerListens) {
  for (const char* service : {"", "dipwire.v1.AlertService"}) {
    absl::StatusOr<client::HealthStatus> health = client_->CheckHealth(service);
    ASSERT_THAT(health, IsOk()) << service;
    EXPECT_EQ(*health, HealthCheckResponse::SERVING) << service;
  }
}

TEST_F(HealthTest, UnknownServiceIsNotFound) {
  EXPECT_THAT(client_->CheckHealth("dipwire.v1.NoSuchService"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(HealthTest, WatchSeesNotServingWhenShutdownBegins) {
  auto channel =
      grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  HealthCheckRequest request;
  request.set_service("dipwire.v1.AlertService");
  auto watch = stub->Watch(&context, request);
  HealthCheckResponse response;
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  ASSERT_EQ(kill(server_->pid(), SIGTERM), 0);
  ASSERT_TRUE(watch->Read(&response)) << "the watch ended without a status";
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);

  context.TryCancel();
  // An open connection would hold up the server's shutdown.
  watch.reset();
  stub.reset();
  channel.reset();
  absl::StatusOr<int> exit_code = server_->Stop(SIGTERM, absl::Seconds(15));
  ASSERT_THAT(exit_code, IsOk());
  EXPECT_EQ(*exit_code, 0);
  server_.reset();
}

}  // namespace
}  // namespace dipwire

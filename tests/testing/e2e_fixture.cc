#include "tests/testing/e2e_fixture.h"

#include <csignal>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "tests/testing/status_matchers.h"

namespace dipwire::testing {

using ::google::protobuf::util::TimeUtil;
using ::testing::SizeIs;

std::unique_ptr<client::Client> ConnectClient(const std::string& address) {
  client::ClientOptions options;
  options.server = address;
  options.call_timeout = absl::Seconds(20);
  auto client = client::Client::Connect(options);
  EXPECT_THAT(client, IsOk());
  return client.ok() ? *std::move(client) : nullptr;
}

std::vector<v1::Alert> ReadAlerts(client::AlertStream& stream, size_t count) {
  std::vector<v1::Alert> alerts;
  while (alerts.size() < count) {
    v1::SubscribeResponse response;
    auto next = stream.Next(&response, kStreamWait);
    EXPECT_THAT(next, IsOk()) << "after " << alerts.size() << " alerts";
    if (!next.ok() || !*next) break;
    alerts.insert(alerts.end(), response.alerts().begin(),
                  response.alerts().end());
  }
  return alerts;
}

void AwaitHeartbeat(client::AlertStream& stream) {
  v1::SubscribeResponse response;
  auto next = stream.Next(&response, kStreamWait);
  ASSERT_THAT(next, IsOk());
  ASSERT_TRUE(*next);
  ASSERT_TRUE(response.has_heartbeat()) << response.DebugString();
  ASSERT_THAT(response.alerts(), SizeIs(0));
}

absl::Status AwaitEnd(client::AlertStream& stream) {
  for (int i = 0; i < 100; ++i) {
    v1::SubscribeResponse response;
    auto next = stream.Next(&response, kStreamWait);
    if (!next.ok()) return next.status();
    if (!*next) return absl::OkStatus();
  }
  return absl::DeadlineExceededError("the stream did not end");
}

v1::DiplomaticEvent NumberedPeaceEvent(int n) {
  v1::DiplomaticEvent event;
  event.set_event_id(absl::StrCat("p", n));
  *event.mutable_occurred_at() = TimeUtil::SecondsToTimestamp(1'718'409'600);
  *event.mutable_reported_at() =
      TimeUtil::SecondsToTimestamp(1'718'409'600 + n);
  event.mutable_source()->set_outlet("AP");
  v1::PeaceTalkUpdate* talk = event.mutable_peace_talk();
  talk->set_process_id(absl::StrCat("process-", n));
  talk->set_status(v1::PeaceTalkUpdate::PROPOSED);
  talk->add_parties("UKR");
  return event;
}

std::vector<std::string> AlertIds(const std::vector<v1::Alert>& alerts) {
  std::vector<std::string> ids;
  ids.reserve(alerts.size());
  for (const auto& alert : alerts) ids.push_back(alert.alert_id());
  return ids;
}

void DipwiredTest::SetUp() {
  data_dir_ = NewTempDir("dipwired");
  StartServer();
}

void DipwiredTest::TearDown() {
  client_.reset();  // closes the connection: the server need not wait
  if (server_ != nullptr) {
    absl::StatusOr<int> exit_code = server_->Stop(SIGTERM, absl::Seconds(15));
    ASSERT_THAT(exit_code, IsOk());
    EXPECT_EQ(*exit_code, 0);
  }
}

void DipwiredTest::StartServer(const std::vector<std::string>& extra_args) {
  auto server = DipwiredProcess::Start(data_dir_, extra_args);
  ASSERT_THAT(server, IsOk());
  server_ = *std::move(server);
  address_ = server_->address();
  client_ = ConnectClient(address_);
  ASSERT_NE(client_, nullptr);
}

void DipwiredTest::KillAndRestart() {
  absl::StatusOr<int> exit_code = server_->Stop(SIGKILL, absl::Seconds(10));
  ASSERT_THAT(exit_code, IsOk());
  ASSERT_EQ(*exit_code, 128 + SIGKILL);
  server_.reset();
  StartServer();
}

void DipwiredTest::StopServer(int signal) {
  ASSERT_NE(server_, nullptr);
  EXPECT_THAT(server_->Stop(signal, absl::Seconds(15)), IsOk());
  server_.reset();
}

void DipwiredTest::RestartOnTheSamePort() {
  ASSERT_EQ(server_, nullptr);
  const std::string address = address_;
  // A later --listen overrides DipwiredProcess's 127.0.0.1:0.
  StartServer({"--listen", address});
  ASSERT_EQ(address_, address);
}

std::vector<v1::Alert> DipwiredTest::AllAlerts(const std::string& filter) {
  std::vector<v1::Alert> alerts;
  v1::ListAlertsRequest request;
  request.set_filter(filter);
  request.set_page_size(1000);
  for (int page = 0; page < 1000; ++page) {
    auto response = client_->ListAlerts(request);
    EXPECT_THAT(response, IsOk());
    if (!response.ok()) break;
    alerts.insert(alerts.end(), response->alerts().begin(),
                  response->alerts().end());
    if (response->next_page_token().empty()) break;
    request.set_page_token(response->next_page_token());
  }
  return alerts;
}

std::unique_ptr<client::AlertStream> DipwiredTest::Subscribe(
    const v1::SubscribeRequest& request) {
  auto stream = client_->Subscribe(request);
  EXPECT_THAT(stream, IsOk());
  return stream.ok() ? *std::move(stream) : nullptr;
}

}  // namespace dipwire::testing

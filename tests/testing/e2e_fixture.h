#ifndef DIPWIRE_TESTS_TESTING_E2E_FIXTURE_H_
#define DIPWIRE_TESTS_TESTING_E2E_FIXTURE_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "dipwire/v1/alerts.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/dipwired_process.h"

namespace dipwire::testing {

// Bounds every wait for a stream response in end-to-end tests.
inline constexpr absl::Duration kStreamWait = absl::Seconds(20);

// A client of the server at `address` whose unary calls time out after
// 20 s; null (with a test failure) if the options are refused.
std::unique_ptr<client::Client> ConnectClient(const std::string& address);

// Reads alerts from `stream` until `count` have arrived (heartbeats
// skipped), or the stream ends or stalls for kStreamWait (a test failure).
std::vector<v1::Alert> ReadAlerts(client::AlertStream& stream, size_t count);

// Reads the first response and expects a lone heartbeat: the stream is then
// attached and live.
void AwaitHeartbeat(client::AlertStream& stream);

// Reads responses until the stream ends (at most 100 of them); returns its
// final status (OK when the server ended it with OK).
absl::Status AwaitEnd(client::AlertStream& stream);

// A peace-talk event "p<n>" of a process of its own ("process-<n>"):
// exactly one alert.
v1::DiplomaticEvent NumberedPeaceEvent(int n);

// The alert ids of `alerts`, in order.
std::vector<std::string> AlertIds(const std::vector<v1::Alert>& alerts);

// The fixture of end-to-end tests: a real dipwired (DipwiredProcess) on a
// fresh data directory, and a client connected to it. TearDown stops the
// server with SIGTERM and expects exit code 0.
class DipwiredTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts dipwired on data_dir_ (with `extra_args`) and connects client_.
  void StartServer(const std::vector<std::string>& extra_args = {});

  // kill -9, then StartServer on the same data directory.
  void KillAndRestart();

  // Stops the server with `signal` (SIGKILL: a crash; SIGTERM: a clean
  // shutdown) and expects it to exit. client_ stays, unconnected.
  void StopServer(int signal);

  // Starts the server again after StopServer, on the same data directory
  // and port, so that clients of the old address find it; reconnects
  // client_.
  void RestartOnTheSamePort();

  // Every alert of the history matching `filter`, paging through
  // ListAlerts.
  std::vector<v1::Alert> AllAlerts(const std::string& filter = "");

  // Starts a Subscribe stream on client_; null (with a test failure) if
  // the client refuses.
  std::unique_ptr<client::AlertStream> Subscribe(
      const v1::SubscribeRequest& request);

  std::string data_dir_;
  // The server's address, kept across StopServer.
  std::string address_;
  std::unique_ptr<DipwiredProcess> server_;
  std::unique_ptr<client::Client> client_;
};

}  // namespace dipwire::testing

#endif  // DIPWIRE_TESTS_TESTING_E2E_FIXTURE_H_

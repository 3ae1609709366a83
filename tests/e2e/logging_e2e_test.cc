// dipwired's structured logs (--log-format json): every line of its stderr
// is a JSON object with time, level and message; a line about a call names
// the call's peer, method and token name; the token itself never appears.

#include <csignal>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/token.h"
#include "dipwire/v1/alerts.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/dipwired_process.h"
#include "tests/testing/e2e_fixture.h"
#include "tests/testing/status_matchers.h"

namespace dipwire {
namespace {

using ::dipwire::testing::DipwiredProcess;
using ::dipwire::testing::IsOk;
using ::dipwire::testing::NewTempDir;
using ::dipwire::testing::NumberedPeaceEvent;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr absl::string_view kSecret = "s3cret-token-never-logged";

std::string StringField(const google::protobuf::Struct& line,
                        const std::string& name) {
  auto it = line.fields().find(name);
  return it == line.fields().end() ? "" : it->second.string_value();
}

TEST(LoggingTest, JsonLinesNameThePeerAndNeverTheCredentials) {
  const std::string dir = NewTempDir("logging");
  const std::string log = dir + "/stderr.log";
  // The token is known to the server, under the name the log must show.
  const std::string config = dir + "/config.txtpb";
  std::ofstream(config) << R"(auth { tokens { name: "desk-ingest" sha256: ")"
                        << Sha256Hex(kSecret) << R"(" roles: [PUBLISH] } })"
                        << "\n";
  auto server = DipwiredProcess::Start(
      dir + "/data",
      {"--log-format", "json", "--log-level", "debug", "--config", config},
      absl::Seconds(30), log);
  ASSERT_THAT(server, IsOk());
  {
    // A call that succeeds (logged at debug) and one that fails (at info),
    // both with the token.
    auto channel = grpc::CreateChannel((*server)->address(),
                                       grpc::InsecureChannelCredentials());
    auto stub = v1::AlertService::NewStub(channel);
    v1::PublishRequest good;
    *good.add_events() = NumberedPeaceEvent(1);
    v1::PublishRequest bad;
    *bad.add_events() = NumberedPeaceEvent(2);
    bad.mutable_events(0)->mutable_peace_talk()->add_parties("XX");
    for (const v1::PublishRequest* request : {&good, &bad}) {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
      context.AddMetadata("authorization", absl::StrCat("Bearer ", kSecret));
      v1::PublishResponse response;
      const grpc::Status status = stub->Publish(&context, *request, &response);
      EXPECT_EQ(status.ok(), request == &good) << status.error_message();
    }
  }
  absl::StatusOr<int> exit_code = (*server)->Stop(SIGTERM, absl::Seconds(15));
  ASSERT_THAT(exit_code, IsOk());
  EXPECT_EQ(*exit_code, 0);

  std::stringstream text;
  text << std::ifstream(log).rdbuf();
  EXPECT_THAT(text.str(), Not(HasSubstr(kSecret)));
  const std::vector<std::string> lines =
      absl::StrSplit(text.str(), '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  std::vector<google::protobuf::Struct> calls;
  for (const std::string& line : lines) {
    google::protobuf::Struct parsed;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &parsed).ok())
        << "not a JSON object: " << line;
    EXPECT_THAT(StringField(parsed, "time"), StartsWith("20")) << line;
    EXPECT_THAT(StringField(parsed, "level"),
                ::testing::AnyOf("debug", "info", "warning", "error"))
        << line;
    EXPECT_NE(StringField(parsed, "message"), "") << line;
    if (StringField(parsed, "method") == "/dipwire.v1.AlertService/Publish") {
      calls.push_back(parsed);
    }
  }
  ASSERT_EQ(calls.size(), 2u) << text.str();
  for (const google::protobuf::Struct& call : calls) {
    EXPECT_THAT(StringField(call, "peer"), StartsWith("ipv4:127.0.0.1:"));
    EXPECT_EQ(StringField(call, "token"), "desk-ingest");
  }
  EXPECT_EQ(StringField(calls[0], "code"), "OK");
  EXPECT_EQ(StringField(calls[0], "level"), "debug");
  EXPECT_EQ(StringField(calls[1], "code"), "INVALID_ARGUMENT");
  EXPECT_EQ(StringField(calls[1], "level"), "info");
  EXPECT_THAT(StringField(calls[1], "message"),
              HasSubstr("peace_talk.parties"));
}

}  // namespace
}  // namespace dipwire

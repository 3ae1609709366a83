#include "server/server_config.h"

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace dipwire::server {
namespace {

using ::dipwire::testing::IsOk;
using ::dipwire::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::string_view kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

absl::StatusOr<std::vector<SinkSpec>> SinksOf(absl::string_view json) {
  absl::StatusOr<v1::ServerConfig> config =
      ParseServerConfig(json, "dipwired.json");
  if (!config.ok()) return config.status();
  return SinkSpecs(*config, "urn:dipwire:test");
}

TEST(ServerConfigTest, JsonSinkGetsItsDefaults) {
  const absl::StatusOr<std::vector<SinkSpec>> sinks = SinksOf(
      R"({"sinks": [{"name": "wire", "url": "https://example.org/h"}]})");
  ASSERT_THAT(sinks, IsOk());
  ASSERT_EQ(sinks->size(), 1U);
  const SinkSpec& sink = sinks->front();
  EXPECT_EQ(sink.name, "wire");
  EXPECT_EQ(sink.url, "https://example.org/h");
  EXPECT_EQ(sink.format, v1::SinkConfig::CLOUDEVENTS);
  EXPECT_TRUE(sink.key.empty());
  EXPECT_TRUE(sink.filter.matches_everything());
  EXPECT_EQ(sink.max_attempts, 8);
  EXPECT_EQ(sink.timeout, absl::Seconds(10));
  EXPECT_EQ(sink.initial_backoff, absl::Seconds(1));
  EXPECT_EQ(sink.max_backoff, absl::Minutes(5));
  EXPECT_EQ(sink.source, "urn:dipwire:test");
  EXPECT_FALSE(sink.start_earliest);
}

TEST(ServerConfigTest, TextFormatIsReadByItsFileEnding) {
  const absl::StatusOr<v1::ServerConfig> config = ParseServerConfig(
      absl::StrCat(R"(sinks { name: "slack" url: "https://hooks.example/x"
                   format: SLACK filter: "severity >= HIGH" secret: ")",
                   kSecret, R"(" max_attempts: 3 timeout { seconds: 2 }
                   start: EARLIEST })"),
      "dipwired.textproto");
  ASSERT_THAT(config, IsOk());
  const absl::StatusOr<std::vector<SinkSpec>> sinks =
      SinkSpecs(*config, "urn:x");
  ASSERT_THAT(sinks, IsOk());
  const SinkSpec& sink = sinks->front();
  EXPECT_EQ(sink.format, v1::SinkConfig::SLACK);
  EXPECT_EQ(sink.key.size(), 24U);
  EXPECT_EQ(sink.max_attempts, 3);
  EXPECT_EQ(sink.timeout, absl::Seconds(2));
  EXPECT_TRUE(sink.start_earliest);
  EXPECT_FALSE(sink.filter.matches_everything());
}

TEST(ServerConfigTest, ParseErrorsSayWhere) {
  EXPECT_THAT(ParseServerConfig(R"({"sinks": [{"nmae": "x"}]})", "c.json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nmae")));
  EXPECT_THAT(ParseServerConfig("sinks {\n  nmae: \"x\" }", "c.txtpb"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 2, column 7")));
  // No ending: JSON when it starts with '{'.
  EXPECT_THAT(ParseServerConfig(R"({"sinks": []})", "config"), IsOk());
  EXPECT_THAT(ParseServerConfig("sinks {}", "config"), IsOk());
}

TEST(ServerConfigTest, ValidationErrorsNameTheField) {
  struct Case {
    std::string sink;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"({"name": "b", "url": "ftp://example.org"})", "sinks[1].url: "},
      {R"({"name": "b", "url": "http://"})", "sinks[1].url: "},
      {R"({"name": "b", "url": "http://a b/"})", "sinks[1].url: "},
      {R"({"name": "_b", "url": "http://h/"})", "sinks[1].name: "},
      {R"({"name": "", "url": "http://h/"})", "sinks[1].name: "},
      {R"({"name": "a", "url": "http://h/"})",
       "sinks[1].name: \"a\" is used by an earlier sink"},
      {R"({"name": "b", "url": "http://h/", "filter": "type ="})",
       "sinks[1].filter: column"},
      {R"({"name": "b", "url": "http://h/", "format": 7})", "sinks[1].format"},
      {R"({"name": "b", "url": "http://h/", "secret": "whsec_c2hvcnQ="})",
       "sinks[1].secret: "},
      {R"({"name": "b", "url": "http://h/", "secret": "x", "secretEnv": "Y"})",
       "sinks[1].secret: set at most one"},
      {R"({"name": "b", "url": "http://h/", "secretEnv": "NO_SUCH_VAR_X"})",
       "sinks[1].secret_env: "},
      {R"({"name": "b", "url": "http://h/", "secretFile": "/no/such/file"})",
       "sinks[1].secret_file: "},
      {R"({"name": "b", "url": "http://h/", "maxAttempts": 0, "timeout": "-1s"})",
       "sinks[1].timeout: "},
      {R"({"name": "b", "url": "http://h/", "timeout": "301s"})",
       "sinks[1].timeout: "},
      {R"({"name": "b", "url": "http://h/", "maxAttempts": 101})",
       "sinks[1].max_attempts: "},
      {R"({"name": "b", "url": "http://h/", "initialBackoff": "10s",
          "maxBackoff": "1s"})",
       "sinks[1].initial_backoff: "},
  };
  for (const Case& c : cases) {
    const absl::StatusOr<std::vector<SinkSpec>> sinks = SinksOf(absl::StrCat(
        R"({"sinks": [{"name": "a", "url": "http://h/"}, )", c.sink, "]}"));
    EXPECT_THAT(sinks, StatusIs(absl::StatusCode::kInvalidArgument,
                                HasSubstr(c.message)))
        << c.sink;
    EXPECT_THAT(std::string(sinks.status().message()),
                Not(HasSubstr("c2hvcnQ")));
  }
}

TEST(ServerConfigTest, SecretComesFromTheEnvironmentOrAFile) {
  // Single-threaded test: setenv is safe here.
  ASSERT_EQ(setenv("DIPWIRE_TEST_SINK_SECRET",  // NOLINT(concurrency-mt-unsafe)
                   std::string(kSecret).c_str(), 1),
            0);
  const absl::StatusOr<std::vector<SinkSpec>> from_env = SinksOf(
      R"({"sinks": [{"name": "a", "url": "http://h/",
                     "secretEnv": "DIPWIRE_TEST_SINK_SECRET"}]})");
  ASSERT_THAT(from_env, IsOk());
  EXPECT_EQ(from_env->front().key.size(), 24U);

  const std::string path =
      absl::StrCat(::testing::TempDir(), "/server_config_test_secret");
  std::ofstream(path) << kSecret << "\n";
  const absl::StatusOr<std::vector<SinkSpec>> from_file = SinksOf(absl::StrCat(
      R"({"sinks": [{"name": "a", "url": "http://h/", "secretFile": ")", path,
      R"("}]})"));
  ASSERT_THAT(from_file, IsOk());
  EXPECT_EQ(from_file->front().key, from_env->front().key);
}

}  // namespace
}  // namespace dipwire::server

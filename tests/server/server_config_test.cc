#include "server/server_config.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/limits.h"
#include "server/retention.h"
#include "server/server.h"
#include "tests/testing/status_matchers.h"

namespace dipwire::server {
namespace {

using ::dipwire::testing::IsOk;
using ::dipwire::testing::StatusIs;
using ::testing::AllOf;
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

// --- Everything else a flag sets ----------------------------------------

constexpr absl::string_view kHash =
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

absl::Status Apply(absl::string_view text, ServerOptions* options) {
  absl::StatusOr<v1::ServerConfig> config =
      ParseServerConfig(text, "dipwired.textproto");
  if (!config.ok()) return config.status();
  return ApplyServerConfig(*config, options);
}

TEST(ServerConfigTest, FieldsSetTheirFlagsAndUnsetFieldsKeepTheDefaults) {
  ServerOptions options;
  ASSERT_THAT(Apply(absl::StrCat(R"(
      listen: "[::1]:7000" data_dir: "/var/lib/dipwire" insecure_listen: true
      tls { cert_file: "s.pem" key_file: "s.key" client_ca_file: "ca.pem" }
      limits { max_streams: 7 max_filter_depth: 9 max_publish_streams: 3 }
      auth { tokens { name: "wire" sha256: ")",
                                 kHash, R"(" roles: [PUBLISH, SUBSCRIBE]
                      publish_rate { events_per_second: 2.5 } } })"),
                    &options),
              IsOk());
  EXPECT_EQ(options.listen, "[::1]:7000");
  EXPECT_EQ(options.data_dir, "/var/lib/dipwire");
  EXPECT_TRUE(options.insecure_listen);
  EXPECT_EQ(options.tls.cert_file, "s.pem");
  EXPECT_EQ(options.tls.key_file, "s.key");
  EXPECT_EQ(options.tls.client_ca_file, "ca.pem");
  EXPECT_EQ(options.limits.max_streams, 7);
  EXPECT_EQ(options.limits.filter.max_depth, 9);
  EXPECT_EQ(options.limits.max_publish_streams, 3);
  EXPECT_EQ(options.limits.max_message_bytes, Limits().max_message_bytes);
  ASSERT_EQ(options.tokens.size(), 1U);
  const TokenSpec& token = options.tokens.front();
  EXPECT_EQ(token.name, "wire");
  EXPECT_EQ(token.sha256.size(), 32U);
  EXPECT_EQ(token.roles, (std::vector<Role>{Role::kPublish, Role::kSubscribe}));
  EXPECT_EQ(token.publish_events_per_second, 2.5);
  EXPECT_EQ(token.publish_burst, 3);  // one second's worth, rounded up

  ServerOptions defaults;
  ASSERT_THAT(Apply("", &defaults), IsOk());
  EXPECT_EQ(defaults.listen, ServerOptions().listen);
  EXPECT_TRUE(defaults.tokens.empty());
}

TEST(ServerConfigTest, EveryLimitFlagHasAConfigField) {
  for (const LimitFlag& flag : LimitFlags()) {
    std::string field(absl::StripPrefix(flag.name, "--"));
    std::replace(field.begin(), field.end(), '-', '_');
    ServerOptions options;
    ASSERT_THAT(Apply(absl::StrCat("limits { ", field, ": 1 }"), &options),
                IsOk())
        << field;
    EXPECT_EQ(flag.get(options.limits), 1) << field;
    EXPECT_THAT(Apply(absl::StrCat("limits { ", field, ": -1 }"), &options),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr(absl::StrCat("limits.", field, ": "))));
  }
}

TEST(ServerConfigTest, TokenErrorsNameTheFieldAndNeverEchoAToken) {
  const auto token = [](absl::string_view body) {
    return absl::StrCat("auth { tokens { ", body, " } }");
  };
  const std::string hash = absl::StrCat("sha256: \"", kHash, "\"");
  ServerOptions options;
  EXPECT_THAT(
      Apply(token(absl::StrCat("name: \"a b\" ", hash, " roles: ADMIN")),
            &options),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("auth.tokens[0].name")));
  EXPECT_THAT(
      Apply(token("name: \"a\" sha256: \"dw_pasted-token\" roles: ADMIN"),
            &options),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("auth.tokens[0].sha256"),
                     Not(HasSubstr("dw_pasted-token")))));
  EXPECT_THAT(Apply(token(absl::StrCat("name: \"a\" ", hash)), &options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("auth.tokens[0].roles: at least one")));
  EXPECT_THAT(Apply(token(absl::StrCat("name: \"a\" ", hash,
                                       " roles: ADMIN publish_rate { "
                                       "events_per_second: 0 }")),
                    &options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("publish_rate.events_per_second")));
  const std::string twice = absl::StrCat(
      "auth { tokens { name: \"a\" ", hash,
      " roles: ADMIN } tokens { name: \"b\" ", hash, " roles: ADMIN } }");
  EXPECT_THAT(Apply(twice, &options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("auth.tokens[1].sha256: the same token")));
}

TEST(ServerConfigTest, TokensFileAddsItsTokens) {
  const std::string path =
      absl::StrCat(::testing::TempDir(), "/server_config_test_tokens.json");
  std::ofstream(path) << R"({"tokens": [{"name": "desk", "sha256": ")" << kHash
                      << R"(", "roles": ["SUBSCRIBE"]}]})";
  ServerOptions options;
  ASSERT_THAT(
      Apply(absl::StrCat("auth { tokens_file: \"", path, "\" }"), &options),
      IsOk());
  ASSERT_EQ(options.tokens.size(), 1U);
  EXPECT_EQ(options.tokens.front().name, "desk");
  EXPECT_THAT(
      Apply("auth { tokens_file: \"/nonexistent\" }", &options),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("auth.tokens_file: /nonexistent: cannot read")));
}

TEST(ServerConfigTest, NonLoopbackListenNeedsAuthenticationOrInsecureListen) {
  ServerOptions options;
  for (const char* loopback :
       {"127.0.0.1:1", "127.8.9.10:1", "[::1]:1", "localhost:1"}) {
    options.listen = loopback;
    EXPECT_THAT(CheckServerOptions(options), IsOk()) << loopback;
  }
  for (const char* open : {"0.0.0.0:1", "[::]:1", "10.0.0.5:1", "host:1"}) {
    options.listen = open;
    EXPECT_THAT(CheckServerOptions(options),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("refusing to serve")))
        << open;
  }
  options.insecure_listen = true;
  EXPECT_THAT(CheckServerOptions(options), IsOk());
  options.insecure_listen = false;
  options.tokens.emplace_back();
  // Tokens authenticate, but not in plaintext beyond loopback.
  EXPECT_THAT(CheckServerOptions(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("refusing to take bearer tokens in "
                                 "plaintext on host:1")));
  options.insecure_listen = true;  // something in front terminates TLS
  EXPECT_THAT(CheckServerOptions(options), IsOk());
  options.insecure_listen = false;
  options.listen = "127.0.0.1:1";
  EXPECT_THAT(CheckServerOptions(options), IsOk());
}

TEST(ServerConfigTest, ListenAddressesAreHostColonPort) {
  struct Valid {
    const char* address;
    const char* host;
    const char* bare_host;
    int port;
  };
  for (const Valid& valid :
       {Valid{"127.0.0.1:0", "127.0.0.1", "127.0.0.1", 0},
        Valid{"[::1]:50051", "[::1]", "::1", 50051},
        Valid{"localhost:1", "localhost", "localhost", 1},
        Valid{"0.0.0.0:65535", "0.0.0.0", "0.0.0.0", 65535}}) {
    absl::StatusOr<ListenAddress> parsed =
        ParseListenAddress(valid.address, "--listen");
    ASSERT_THAT(parsed, IsOk()) << valid.address;
    EXPECT_EQ(parsed->host, valid.host);
    EXPECT_EQ(parsed->bare_host, valid.bare_host);
    EXPECT_EQ(parsed->port, valid.port);
  }
  for (const char* invalid :
       {"127.0.0.1", "localhost:abc", "127.0.0.1:99999", "host:+1", "host:-1",
        "host:", ":80", "::1:8080", "[::1:80", "[]:1", "a]:1"}) {
    EXPECT_THAT(ParseListenAddress(invalid, "--metrics-listen"),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr(absl::StrCat("--metrics-listen: \"", invalid,
                                                "\" is not HOST:PORT"))));
  }
  // --check-config and the server agree: a bad address fails the check.
  ServerOptions options;
  options.listen = "127.0.0.1:99999";
  EXPECT_THAT(CheckServerOptions(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--listen (listen)")));
  options.listen = "127.0.0.1:0";
  options.metrics_listen = "nohost";
  EXPECT_THAT(CheckServerOptions(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--metrics-listen (metrics_listen)")));
}

TEST(ServerConfigTest, TlsFilesGoTogetherAndMustBePem) {
  ServerOptions options;
  options.tls.cert_file = "s.pem";
  EXPECT_THAT(
      CheckServerOptions(options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("go together")));
  options.tls = TlsFiles();
  options.tls.client_ca_file = "ca.pem";
  EXPECT_THAT(
      CheckServerOptions(options),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("--tls-client-ca (tls.client_ca_file) needs")));
  const std::string not_pem =
      absl::StrCat(::testing::TempDir(), "/server_config_test_not.pem");
  std::ofstream(not_pem) << "hello";
  options.tls = TlsFiles();
  options.tls.cert_file = not_pem;
  options.tls.key_file = "/nonexistent.key";
  EXPECT_THAT(CheckServerOptions(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("holds no PEM certificate")));
}

// --- Retention ---------------------------------------------------------

TEST(ServerConfigTest, RetentionSpecIsACountOrAnAge) {
  EXPECT_FALSE(ParseRetentionSpec("", "--retain-events")->enabled());
  EXPECT_EQ(ParseRetentionSpec("1000000", "--retain-events")->count, 1000000U);
  EXPECT_EQ(ParseRetentionSpec("30d", "--retain-events")->age,
            absl::Hours(720));
  EXPECT_EQ(ParseRetentionSpec("12h", "--retain-events")->age, absl::Hours(12));
  EXPECT_EQ(ParseRetentionSpec("90m", "--retain-events")->age,
            absl::Minutes(90));
  EXPECT_EQ(ParseRetentionSpec("3600s", "--retain-events")->age,
            absl::Hours(1));
  for (const char* bad : {"0", "0d", "-5", "12x", "d", "1.5h", "12 h", "h12",
                          "99999999999999999999", "100000000d"}) {
    EXPECT_THAT(
        ParseRetentionSpec(bad, "--retain-alerts"),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 HasSubstr(absl::StrCat("--retain-alerts: \"", bad, "\""))))
        << bad;
  }
  EXPECT_EQ(*ParseRetentionInterval("500ms", "--retention-interval"),
            absl::Milliseconds(500));
  EXPECT_THAT(ParseRetentionInterval("1ms", "--retention-interval"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("between 10ms and 24h")));
}

TEST(ServerConfigTest, RetentionFieldsSetTheirFlagsAndBadOnesNameTheField) {
  ServerOptions options;
  ASSERT_THAT(Apply(R"(retention { events: "30d" alerts: "5000"
                                   interval { seconds: 5 } })",
                    &options),
              IsOk());
  EXPECT_EQ(options.retention.events.age, absl::Hours(720));
  EXPECT_EQ(options.retention.alerts.count, 5000U);
  EXPECT_EQ(options.retention.interval, absl::Seconds(5));

  ServerOptions defaults;
  ASSERT_THAT(Apply("", &defaults), IsOk());
  EXPECT_FALSE(defaults.retention.enabled());
  EXPECT_EQ(defaults.retention.interval, absl::Seconds(60));

  EXPECT_THAT(Apply(R"(retention { alerts: "lots" })", &options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("retention.alerts: \"lots\"")));
  EXPECT_THAT(Apply(R"(retention { interval { seconds: 100000 } })", &options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("retention.interval")));
}

}  // namespace
}  // namespace dipwire::server

// Security end to end (README.md, "Security: TLS and tokens"): the real
// dipwired with tokens from its config file, TLS and mutual TLS with
// certificates this test makes with openssl, and the config file's checks.
// Each fixture starts one server for all its tests.

#include <array>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/cli.h"
#include "client/client.h"
#include "common/token.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/dipwired_process.h"
#include "tests/testing/e2e_fixture.h"
#include "tests/testing/status_matchers.h"

namespace dipwire {
namespace {

using ::dipwire::testing::DipwiredProcess;
using ::dipwire::testing::DipwiredRun;
using ::dipwire::testing::IsOk;
using ::dipwire::testing::kStreamWait;
using ::dipwire::testing::NewTempDir;
using ::dipwire::testing::NumberedPeaceEvent;
using ::dipwire::testing::RunDipwired;
using ::dipwire::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// The tokens of the servers below. Fixed strings, not `dipwire tokens new`
// output: the server sees only their SHA-256 either way.
constexpr absl::string_view kPublisherToken = "dw_test-publisher";
constexpr absl::string_view kSubscriberToken = "dw_test-subscriber";
constexpr absl::string_view kBothToken = "dw_test-publisher-and-subscriber";
constexpr absl::string_view kAdminToken = "dw_test-admin";
constexpr absl::string_view kLimitedToken = "dw_test-limited";

// A TokenConfig in text format.
std::string TokenLine(absl::string_view name, absl::string_view token,
                      absl::string_view roles, absl::string_view extra = "") {
  return absl::StrCat("tokens { name: \"", name, "\" sha256: \"",
                      Sha256Hex(token), "\" roles: [", roles, "] ", extra,
                      "}\n");
}

void WriteFile(const std::string& path, absl::string_view text) {
  std::ofstream file(path);
  file << text;
  ASSERT_TRUE(file.good()) << path;
}

// Starts dipwired on loopback with `args`; null (with a test failure) if it
// does not start.
std::unique_ptr<DipwiredProcess> StartDipwired(
    const std::vector<std::string>& args) {
  auto server = DipwiredProcess::Start(NewTempDir("auth-data"), args);
  EXPECT_THAT(server, IsOk());
  return server.ok() ? *std::move(server) : nullptr;
}

std::unique_ptr<client::Client> Connect(client::ClientOptions options) {
  options.call_timeout = absl::Seconds(20);
  auto client = client::Client::Connect(options);
  EXPECT_THAT(client, IsOk());
  return client.ok() ? *std::move(client) : nullptr;
}

std::unique_ptr<client::Client> ConnectWithToken(const std::string& address,
                                                 absl::string_view token) {
  client::ClientOptions options;
  options.server = address;
  options.token = std::string(token);
  return Connect(options);
}

// Event ids unique across the tests of one server.
v1::PublishRequest OneEvent() {
  static std::atomic<int> next{1};
  v1::PublishRequest request;
  *request.add_events() = NumberedPeaceEvent(next.fetch_add(1));
  return request;
}

v1::PublishRequest Events(int count) {
  v1::PublishRequest request;
  for (int i = 0; i < count; ++i) *request.add_events() = OneEvent().events(0);
  return request;
}

// One PublishStream call with one request; the call's or the response's
// error as a status.
absl::Status PublishOverStream(client::Client& client,
                               const v1::PublishRequest& request) {
  auto session = client.PublishStream();
  if (!session.ok()) return session.status();
  // A refused call breaks the stream: Finish below says why.
  (*session)->Send(request).IgnoreError();
  v1::PublishResponse response;
  absl::StatusOr<bool> received = (*session)->Receive(&response);
  absl::Status finished = (*session)->Finish();
  if (!finished.ok()) return finished;
  if (!received.ok()) return received.status();
  if (response.has_error()) {
    return {static_cast<absl::StatusCode>(response.error().code()),
            response.error().message()};
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Every RPC with every kind of credential, against one server.

enum class Need { kPublish, kSubscribe, kAdmin };

struct Rpc {
  const char* name;
  Need need;
  // What the call returns with a token that holds the role.
  absl::StatusCode allowed_code;
  std::function<absl::Status(client::Client&)> call;
};

constexpr absl::string_view kSubscription = "matrix";

// The cursor of an alert the matrix's server has (set up once).
std::string& AckCursor() {
  static auto* const cursor = new std::string;
  return *cursor;
}
constexpr absl::string_view kSink = "wire";

const std::vector<Rpc>& Rpcs() {
  static const auto* const rpcs = new std::vector<Rpc>{
      {"Publish", Need::kPublish, absl::StatusCode::kOk,
       [](client::Client& c) { return c.Publish(OneEvent()).status(); }},
      {"PublishStream", Need::kPublish, absl::StatusCode::kOk,
       [](client::Client& c) { return PublishOverStream(c, OneEvent()); }},
      {"Subscribe", Need::kSubscribe, absl::StatusCode::kOk,
       [](client::Client& c) -> absl::Status {
         auto stream = c.Subscribe(v1::SubscribeRequest());
         if (!stream.ok()) return stream.status();
         v1::SubscribeResponse response;  // a heartbeat at once
         return (*stream)->Next(&response, kStreamWait).status();
       }},
      {"Acknowledge", Need::kSubscribe, absl::StatusCode::kOk,
       [](client::Client& c) {
         v1::AcknowledgeRequest request;
         request.set_subscription(std::string(kSubscription));
         request.set_cursor(AckCursor());
         return c.Acknowledge(request).status();
       }},
      {"ListAlerts", Need::kSubscribe, absl::StatusCode::kOk,
       [](client::Client& c) { return c.ListAlerts({}).status(); }},
      {"ListEvents", Need::kSubscribe, absl::StatusCode::kOk,
       [](client::Client& c) { return c.ListEvents({}).status(); }},
      {"ListSubscriptions", Need::kSubscribe, absl::StatusCode::kOk,
       [](client::Client& c) { return c.ListSubscriptions({}).status(); }},
      // An unknown name: the call got past authentication to the store.
      {"DeleteSubscription", Need::kAdmin, absl::StatusCode::kNotFound,
       [](client::Client& c) {
         v1::DeleteSubscriptionRequest request;
         request.set_name("never-created");
         return c.DeleteSubscription(request).status();
       }},
      {"ListSinks", Need::kAdmin, absl::StatusCode::kOk,
       [](client::Client& c) { return c.ListSinks({}).status(); }},
      {"ListDeadLetters", Need::kAdmin, absl::StatusCode::kOk,
       [](client::Client& c) {
         v1::ListDeadLettersRequest request;
         request.set_sink(std::string(kSink));
         return c.ListDeadLetters(request).status();
       }},
      {"RedeliverDeadLetters", Need::kAdmin, absl::StatusCode::kOk,
       [](client::Client& c) {
         v1::RedeliverDeadLettersRequest request;
         request.set_sink(std::string(kSink));
         return c.RedeliverDeadLetters(request).status();
       }},
  };
  return *rpcs;
}

enum class Credential {
  kNone,
  kUnknownToken,
  kTokenWithoutRole,
  kRightToken,
  kAdminToken
};

// The token of `credential` for `need` (empty: none).
absl::string_view TokenFor(Credential credential, Need need) {
  switch (credential) {
    case Credential::kNone:
      return "";
    case Credential::kUnknownToken:
      return "dw_not-a-configured-token";
    case Credential::kTokenWithoutRole:
      switch (need) {
        case Need::kPublish:
          return kSubscriberToken;
        case Need::kSubscribe:
          return kPublisherToken;
        case Need::kAdmin:
          return kBothToken;
      }
      break;
    case Credential::kRightToken:
      switch (need) {
        case Need::kPublish:
          return kPublisherToken;
        case Need::kSubscribe:
          return kSubscriberToken;
        case Need::kAdmin:
          return kAdminToken;
      }
      break;
    case Credential::kAdminToken:
      return kAdminToken;
  }
  return "";
}

// The server of AuthMatrixTest, for all its tests.
DipwiredProcess* matrix_server = nullptr;

class AuthMatrixTest
    : public ::testing::TestWithParam<std::tuple<size_t, Credential>> {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = NewTempDir("auth-matrix");
    const std::string config = absl::StrCat(dir, "/dipwired.textproto");
    WriteFile(
        config,
        absl::StrCat(
            "auth {\n", TokenLine("publisher", kPublisherToken, "PUBLISH"),
            TokenLine("subscriber", kSubscriberToken, "SUBSCRIBE"),
            TokenLine("both", kBothToken, "PUBLISH, SUBSCRIBE"),
            TokenLine("ops", kAdminToken, "ADMIN"), "}\n",
            // Nothing listens there: the sink's alerts wait in retries.
            "sinks { name: \"", kSink,
            "\" url: \"http://127.0.0.1:9/hook\" }\n"));
    matrix_server = StartDipwired({"--config", config}).release();
    ASSERT_NE(matrix_server, nullptr);
    // An alert to acknowledge, and the durable subscription to ack it for.
    auto admin = ConnectWithToken(matrix_server->address(), kAdminToken);
    ASSERT_NE(admin, nullptr);
    absl::StatusOr<v1::PublishResponse> published = admin->Publish(OneEvent());
    ASSERT_THAT(published, IsOk());
    absl::StatusOr<v1::ListAlertsResponse> alerts = admin->ListAlerts({});
    ASSERT_THAT(alerts, IsOk());
    ASSERT_GT(alerts->alerts_size(), 0);
    AckCursor() = alerts->alerts(0).cursor();
    v1::SubscribeRequest durable;
    durable.set_subscription(std::string(kSubscription));
    auto stream = admin->Subscribe(durable);
    ASSERT_THAT(stream, IsOk());
    v1::SubscribeResponse response;
    ASSERT_THAT((*stream)->Next(&response, kStreamWait), IsOk());
  }

  static void TearDownTestSuite() {
    if (matrix_server != nullptr) {
      EXPECT_THAT(matrix_server->Stop(SIGTERM, absl::Seconds(30)), IsOk());
    }
    delete matrix_server;
    matrix_server = nullptr;
  }
};

std::string MatrixTestName(
    const ::testing::TestParamInfo<std::tuple<size_t, Credential>>& info) {
  static constexpr std::array<const char*, 5> kNames = {
      "NoToken", "UnknownToken", "TokenWithoutRole", "RightToken",
      "AdminToken"};
  return absl::StrCat(Rpcs()[std::get<0>(info.param)].name, "_",
                      kNames[static_cast<int>(std::get<1>(info.param))]);
}

TEST_P(AuthMatrixTest, CallAnswersAsTheTokenAllows) {
  ASSERT_NE(matrix_server, nullptr);
  const auto& [index, credential] = GetParam();
  const Rpc& rpc = Rpcs()[index];
  auto client = ConnectWithToken(matrix_server->address(),
                                 TokenFor(credential, rpc.need));
  ASSERT_NE(client, nullptr);
  const absl::Status status = rpc.call(*client);
  switch (credential) {
    case Credential::kNone:
    case Credential::kUnknownToken:
      EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnauthenticated,
                                   Not(HasSubstr("dw_"))));
      break;
    case Credential::kTokenWithoutRole:
      EXPECT_THAT(status, StatusIs(absl::StatusCode::kPermissionDenied,
                                   HasSubstr("does not have the")));
      break;
    case Credential::kRightToken:
    case Credential::kAdminToken:
      EXPECT_THAT(status, StatusIs(rpc.allowed_code));
      break;
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryRpc, AuthMatrixTest,
    ::testing::Combine(::testing::Range<size_t>(0, Rpcs().size()),
                       ::testing::Values(Credential::kNone,
                                         Credential::kUnknownToken,
                                         Credential::kTokenWithoutRole,
                                         Credential::kRightToken,
                                         Credential::kAdminToken)),
    MatrixTestName);

// ---------------------------------------------------------------------------
// Per-token publish rates, and the CLI's token.

// Runs the dipwire CLI in this process with `args` (without the program
// name); returns its exit status and sets `*err` to its diagnostics.
int RunCliWith(const std::vector<std::string>& args, std::string* err) {
  std::vector<std::string> all = {"dipwire"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  argv.reserve(all.size());
  for (std::string& arg : all) argv.push_back(arg.data());
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err_stream;
  const int status = client::RunCli(static_cast<int>(argv.size()), argv.data(),
                                    in, out, err_stream);
  *err = err_stream.str();
  return status;
}

// The server of TokenServerTest, for all its tests.
DipwiredProcess* token_server = nullptr;

class TokenServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = NewTempDir("auth-rate");
    const std::string config = absl::StrCat(dir, "/dipwired.textproto");
    // One event per 1000 s: the bucket does not refill during the test.
    WriteFile(
        config,
        absl::StrCat("auth {\n",
                     TokenLine("limited", kLimitedToken, "PUBLISH",
                               "publish_rate { events_per_second: 0.001 "
                               "burst: 3 } "),
                     TokenLine("publisher", kPublisherToken, "PUBLISH"),
                     TokenLine("subscriber", kSubscriberToken, "SUBSCRIBE"),
                     "}\n"));
    token_server = StartDipwired({"--config", config}).release();
  }

  static void TearDownTestSuite() {
    if (token_server != nullptr) {
      EXPECT_THAT(token_server->Stop(SIGTERM, absl::Seconds(30)), IsOk());
    }
    delete token_server;
    token_server = nullptr;
  }
};

TEST_F(TokenServerTest, TokenOverItsRateIsRefusedNamingTheLimit) {
  ASSERT_NE(token_server, nullptr);
  auto limited = ConnectWithToken(token_server->address(), kLimitedToken);
  auto publisher = ConnectWithToken(token_server->address(), kPublisherToken);
  ASSERT_NE(limited, nullptr);
  ASSERT_NE(publisher, nullptr);

  // A batch larger than the burst can never pass.
  EXPECT_THAT(limited->Publish(Events(4)),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("a batch of 4 events is over the burst of "
                                 "token \"limited\" (0.001 events/s, "
                                 "burst 3)")));
  // Events count, not requests: 2 + 1 fill the burst of 3.
  EXPECT_THAT(limited->Publish(Events(2)), IsOk());
  EXPECT_THAT(PublishOverStream(*limited, Events(1)), IsOk());
  EXPECT_THAT(limited->Publish(Events(1)),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       AllOf(HasSubstr("over the publish rate of token "
                                       "\"limited\" (0.001 events/s, burst 3)"),
                             HasSubstr("retry in"))));
  // On PublishStream the refused request is answered with the error, and
  // nothing of it is stored.
  EXPECT_THAT(PublishOverStream(*limited, Events(1)),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("token \"limited\"")));
  auto subscriber = ConnectWithToken(token_server->address(), kSubscriberToken);
  ASSERT_NE(subscriber, nullptr);
  absl::StatusOr<v1::ListEventsResponse> events = subscriber->ListEvents({});
  ASSERT_THAT(events, IsOk());
  EXPECT_EQ(events->events_size(), 3);
  // Other tokens have buckets of their own (none here).
  EXPECT_THAT(publisher->Publish(Events(10)), IsOk());
}

// The CLI takes the token from DIPWIRE_TOKEN (or --token).
TEST_F(TokenServerTest, CliSendsTheTokenOfTheEnvironment) {
  ASSERT_NE(token_server, nullptr);
  const std::vector<std::string> args = {
      "alerts", absl::StrCat("--server=", token_server->address())};
  std::string err;
  // NOLINTNEXTLINE(concurrency-mt-unsafe): the test's only thread.
  ASSERT_EQ(unsetenv("DIPWIRE_TOKEN"), 0);
  EXPECT_EQ(RunCliWith(args, &err), 1);
  EXPECT_THAT(err, HasSubstr("UNAUTHENTICATED"));

  // NOLINTNEXTLINE(concurrency-mt-unsafe): the test's only thread.
  ASSERT_EQ(setenv("DIPWIRE_TOKEN", std::string(kSubscriberToken).c_str(), 1),
            0);
  EXPECT_EQ(RunCliWith(args, &err), 0) << err;
  // NOLINTNEXTLINE(concurrency-mt-unsafe): the test's only thread.
  ASSERT_EQ(unsetenv("DIPWIRE_TOKEN"), 0);
  std::vector<std::string> with_flag = args;
  with_flag.push_back(absl::StrCat("--token=", kPublisherToken));
  EXPECT_EQ(RunCliWith(with_flag, &err), 1);
  EXPECT_THAT(err, HasSubstr("PERMISSION_DENIED"));
}

// ---------------------------------------------------------------------------
// TLS and mutual TLS, with certificates made by openssl for this test.

// Runs a shell command; a test failure with its output when it fails.
void Run(const std::string& command) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): the test's only thread.
  const int status = std::system(absl::StrCat(command, " 2>&1").c_str());
  ASSERT_EQ(status, 0) << command;
}

// A CA, a server certificate for IP 127.0.0.1 and the name
// dipwired.news.svc, and a client certificate,
// both signed by the CA, plus a second CA that signed neither.
struct TestCertificates {
  std::string ca;
  std::string other_ca;
  std::string server_cert;
  std::string server_key;
  std::string client_cert;
  std::string client_key;
};

void MakeCertificates(const std::string& dir, TestCertificates* certs) {
  const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1";
  const std::string in = absl::StrCat("cd '", dir, "' && openssl ");
  for (const char* ca : {"ca", "other-ca"}) {
    Run(absl::StrCat(in, "req -x509 ", key, " -nodes -days 2 -subj /CN=", ca,
                     " -keyout ", ca, ".key -out ", ca, ".pem >/dev/null"));
  }
  WriteFile(absl::StrCat(dir, "/server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:dipwired.news.svc\n"
            "extendedKeyUsage=serverAuth\n");
  WriteFile(absl::StrCat(dir, "/client.ext"), "extendedKeyUsage=clientAuth\n");
  for (const char* name : {"server", "client"}) {
    Run(absl::StrCat(in, "req ", key, " -nodes -subj /CN=dipwire-", name,
                     " -keyout ", name, ".key -out ", name, ".csr >/dev/null"));
    Run(absl::StrCat(in, "x509 -req -in ", name,
                     ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
                     "-extfile ",
                     name, ".ext -out ", name, ".pem >/dev/null"));
  }
  certs->ca = absl::StrCat(dir, "/ca.pem");
  certs->other_ca = absl::StrCat(dir, "/other-ca.pem");
  certs->server_cert = absl::StrCat(dir, "/server.pem");
  certs->server_key = absl::StrCat(dir, "/server.key");
  certs->client_cert = absl::StrCat(dir, "/client.pem");
  certs->client_key = absl::StrCat(dir, "/client.key");
}

// TlsTest's certificates and servers, for all its tests: one serves TLS
// without asking for client certificates, the other requires them, signed
// by tls_certs->ca.
TestCertificates* tls_certs = nullptr;
DipwiredProcess* tls_server = nullptr;
DipwiredProcess* mtls_server = nullptr;

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tls_certs = new TestCertificates;
    MakeCertificates(NewTempDir("tls-tls_certs"), tls_certs);
    tls_server = StartDipwired({"--tls-cert", tls_certs->server_cert,
                                "--tls-key", tls_certs->server_key})
                     .release();
    mtls_server =
        StartDipwired({"--tls-cert", tls_certs->server_cert, "--tls-key",
                       tls_certs->server_key, "--tls-client-ca", tls_certs->ca})
            .release();
  }

  static void TearDownTestSuite() {
    for (DipwiredProcess** server : {&tls_server, &mtls_server}) {
      if (*server != nullptr) {
        EXPECT_THAT((*server)->Stop(SIGTERM, absl::Seconds(30)), IsOk());
      }
      delete *server;
      *server = nullptr;
    }
    delete tls_certs;
    tls_certs = nullptr;
  }

  static absl::Status PublishWith(const DipwiredProcess& server,
                                  client::ClientOptions options) {
    options.server = server.address();
    auto client = Connect(options);
    if (client == nullptr) return absl::InternalError("no client");
    return client->Publish(OneEvent()).status();
  }
};

TEST_F(TlsTest, ClientTrustingTheCaIsServedOverTls) {
  ASSERT_NE(tls_server, nullptr);
  client::ClientOptions options;
  options.tls_ca_file = tls_certs->ca;
  EXPECT_THAT(PublishWith(*tls_server, options), IsOk());
}

TEST_F(TlsTest, PlaintextClientOrUntrustedServerCertificateIsRefused) {
  ASSERT_NE(tls_server, nullptr);
  EXPECT_THAT(PublishWith(*tls_server, client::ClientOptions()),
              StatusIs(absl::StatusCode::kUnavailable));
  client::ClientOptions options;
  options.tls_ca_file = tls_certs->other_ca;
  EXPECT_THAT(PublishWith(*tls_server, options),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(TlsTest, MutualTlsServesAClientWithItsCertificate) {
  ASSERT_NE(mtls_server, nullptr);
  client::ClientOptions options;
  options.tls_ca_file = tls_certs->ca;
  options.tls_cert_file = tls_certs->client_cert;
  options.tls_key_file = tls_certs->client_key;
  EXPECT_THAT(PublishWith(*mtls_server, options), IsOk());
}

TEST_F(TlsTest, MutualTlsRefusesAClientWithoutACertificate) {
  ASSERT_NE(mtls_server, nullptr);
  client::ClientOptions options;
  options.tls_ca_file = tls_certs->ca;
  EXPECT_THAT(PublishWith(*mtls_server, options),
              StatusIs(absl::StatusCode::kUnavailable));
  // A certificate from another CA is no better: the server's own one,
  // presented as a client's, is signed by the right CA but is no client
  // certificate (extendedKeyUsage serverAuth).
  options.tls_cert_file = tls_certs->server_cert;
  options.tls_key_file = tls_certs->server_key;
  EXPECT_THAT(PublishWith(*mtls_server, options),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(TlsTest, KeyOfAnotherCertificateStopsTheServer) {
  const DipwiredRun run =
      RunDipwired({"--listen", "127.0.0.1:0", "--data-dir",
                   NewTempDir("tls-mismatch") + "/data", "--tls-cert",
                   tls_certs->server_cert, "--tls-key", tls_certs->client_key});
  // Found by the checks before anything starts, as --check-config finds it.
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err,
              HasSubstr("--tls-key (tls.key_file): " + tls_certs->client_key +
                        " is not the key of the certificate in " +
                        tls_certs->server_cert));
  const std::string empty = NewTempDir("tls-mismatch-check") + "/empty.json";
  WriteFile(empty, "{}");
  const DipwiredRun check =
      RunDipwired({"--check-config", empty, "--tls-cert",
                   tls_certs->server_cert, "--tls-key", tls_certs->client_key});
  EXPECT_EQ(check.exit_code, 2);
  EXPECT_THAT(check.err, HasSubstr("is not the key of the certificate"));
}

TEST_F(TlsTest, CliConnectsWithTheTlsFlags) {
  ASSERT_NE(mtls_server, nullptr);
  std::string err;
  EXPECT_EQ(
      RunCliWith({"events", absl::StrCat("--server=", mtls_server->address()),
                  absl::StrCat("--tls-ca=", tls_certs->ca),
                  absl::StrCat("--tls-cert=", tls_certs->client_cert),
                  absl::StrCat("--tls-key=", tls_certs->client_key)},
                 &err),
      0)
      << err;
  // Without the client certificate the server refuses the connection.
  EXPECT_EQ(
      RunCliWith({"events", absl::StrCat("--server=", mtls_server->address()),
                  absl::StrCat("--tls-ca=", tls_certs->ca)},
                 &err),
      1);
}

TEST_F(TlsTest, HealthProbeNamesTheCertificatesServerName) {
  // A probe inside the server's pod reaches it on 127.0.0.1 but checks the
  // certificate against the service's name.
  ASSERT_NE(tls_server, nullptr);
  std::string err;
  const std::string server = absl::StrCat("--server=", tls_server->address());
  const std::string ca = absl::StrCat("--tls-ca=", tls_certs->ca);
  EXPECT_EQ(
      RunCliWith({"health", server, ca, "--tls-server-name=dipwired.news.svc"},
                 &err),
      0)
      << err;
  // A name the certificate does not hold fails the handshake.
  EXPECT_EQ(
      RunCliWith({"health", server, ca, "--tls-server-name=other.example"},
                 &err),
      1);
  EXPECT_THAT(err, HasSubstr("UNAVAILABLE"));
  // And without TLS the name means nothing: a usage error.
  EXPECT_EQ(RunCliWith({"health", server, "--tls-server-name=x.example"}, &err),
            2);
  EXPECT_THAT(err, HasSubstr("--tls-server-name needs TLS"));
}

// ---------------------------------------------------------------------------
// The config file and the listen address, checked before serving.

TEST(ConfigFileTest, CheckConfigPrintsASummaryOrNamesTheField) {
  const std::string dir = NewTempDir("check-config");
  const std::string good = absl::StrCat(dir, "/good.textproto");
  WriteFile(good, absl::StrCat("listen: \"0.0.0.0:7000\"\n", "auth {\n",
                               TokenLine("ops", kAdminToken, "ADMIN"),
                               "}\nlimits { max_streams: 5 }\n",
                               "insecure_listen: true\n"));
  DipwiredRun run = RunDipwired({"--check-config", good});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("OK: listen 0.0.0.0:7000"));
  EXPECT_THAT(run.out, HasSubstr("1 token(s)"));

  const std::string bad = absl::StrCat(dir, "/bad.json");
  WriteFile(bad, R"({"auth": {"tokens": [
                     {"name": "ops", "sha256": "not-a-hash",
                      "roles": ["ADMIN"]}]}})");
  run = RunDipwired({"--check-config", bad});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("auth.tokens[0].sha256: not 64 lower-case"));
  EXPECT_THAT(run.err, Not(HasSubstr("not-a-hash")));
}

TEST(ConfigFileTest, FlagsOverrideTheFile) {
  const std::string dir = NewTempDir("override");
  const std::string config = absl::StrCat(dir, "/dipwired.textproto");
  WriteFile(config, "listen: \"127.0.0.1:7001\"\nlimits { max_streams: 0 }\n");
  DipwiredRun run =
      RunDipwired({"--check-config", config, "--listen", "[::1]:7002"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("listen [::1]:7002"));
  // Both would leave it unclear whether to check or to serve: a usage
  // error, never a server started by a deploy script's check step.
  run = RunDipwired({"--check-config", config, "--config", config});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("one of --config and --check-config"));
  // The file's limit is applied like the flag, and the flag wins over it.
  WriteFile(config, "limits { max_streams: 1 }\n");
  auto server = StartDipwired({"--config", config, "--max-streams", "2"});
  ASSERT_NE(server, nullptr);
  auto client = ConnectWithToken(server->address(), "");
  ASSERT_NE(client, nullptr);
  // One at a time, so that the third is the one refused; a stream the
  // server admitted sends a heartbeat within a second.
  v1::SubscribeRequest request;
  request.mutable_heartbeat_interval()->set_seconds(1);
  std::vector<std::unique_ptr<client::AlertStream>> streams;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::unique_ptr<client::AlertStream>> stream =
        client->Subscribe(request);
    ASSERT_THAT(stream, IsOk());
    streams.push_back(*std::move(stream));
    v1::SubscribeResponse response;
    const absl::StatusOr<bool> next =
        streams.back()->Next(&response, kStreamWait);
    if (i < 2) {
      EXPECT_THAT(next, IsOk());
    } else {
      EXPECT_THAT(next, StatusIs(absl::StatusCode::kResourceExhausted,
                                 HasSubstr("--max-streams=2")));
    }
  }
  // Closing the connection first lets the server stop at once.
  streams.clear();
  client.reset();
  EXPECT_THAT(server->Stop(SIGTERM, absl::Seconds(30)), IsOk());
}

TEST(ConfigFileTest, NonLoopbackListenWithoutAuthenticationIsRefused) {
  const std::string data = NewTempDir("open") + "/data";
  DipwiredRun run = RunDipwired({"--listen", "0.0.0.0:0", "--data-dir", data});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, AllOf(HasSubstr("refusing to serve 0.0.0.0:0 without "
                                       "authentication"),
                             HasSubstr("--insecure-listen")));
  EXPECT_EQ(run.out.find("listening on"), std::string::npos);
}

}  // namespace
}  // namespace dipwire

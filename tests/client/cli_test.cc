#include "client/cli.h"

#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/proto_json.h"
#include "common/token.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/fake_alert_service.h"
#include "tests/testing/dipwired_process.h"
#include "tests/testing/status_matchers.h"

namespace dipwire::client {
namespace {

using ::dipwire::testing::FakeAlertService;
using ::dipwire::testing::FakeServer;
using ::dipwire::testing::IsOk;
using ::dipwire::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

struct CliResult {
  int exit_code;
  std::string out;
  std::string err;
};

// Runs `dipwire args...` in process, with `input` as standard input.
CliResult RunDipwire(std::vector<std::string> args,
                     const std::string& input = "") {
  args.insert(args.begin(), "dipwire");
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::istringstream in(input);
  std::ostringstream out;
  std::ostringstream err;
  const int exit_code =
      RunCli(static_cast<int>(args.size()), argv.data(), in, out, err);
  return {exit_code, out.str(), err.str()};
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

std::string WriteFile(const std::string& contents) {
  std::string path =
      absl::StrCat(dipwire::testing::NewTempDir("cli_test"), "/events.jsonl");
  std::ofstream(path) << contents;
  return path;
}

// One JSON line: a valid-looking trade event.
std::string TradeLine(const std::string& event_id) {
  return absl::StrCat(
      R"({"eventId":")", event_id,
      R"(","occurredAt":"2023-12-31T00:00:00Z","source":{"outlet":"Reuters"},)"
      R"("trade":{"countryA":"CHN","countryB":"RUS","year":2023,)"
      R"("valueUsd":"240100000000","flow":"TOTAL","reporter":"China customs"}})");
}

v1::Alert TradeRecordAlert() {
  v1::Alert alert;
  alert.set_alert_id("al-3-0");
  alert.set_type(v1::Alert::TRADE_RECORD);
  alert.set_severity(v1::Alert::HIGH);
  alert.set_headline("Trade record: CHN-RUS $240.1 billion in 2023");
  alert.mutable_created_at()->set_seconds(1711962000);  // 2024-04-01T09:00Z
  alert.mutable_created_at()->set_nanos(750000000);
  return alert;
}

// --- Usage --------------------------------------------------------------

TEST(CliTest, NoCommandIsAUsageError) {
  const CliResult result = RunDipwire({});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, AllOf(HasSubstr("no command"),
                                HasSubstr("usage: dipwire publish")));
  EXPECT_THAT(result.out, IsEmpty());
}

TEST(CliTest, UnknownCommandIsAUsageError) {
  const CliResult result = RunDipwire({"frobnicate"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("unknown command \"frobnicate\""));
}

TEST(CliTest, UnknownFlagIsAUsageErrorNamingTheFlag) {
  const CliResult result = RunDipwire({"alerts", "--colour", "red"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, AllOf(HasSubstr("unknown flag --colour"),
                                HasSubstr("usage: dipwire alerts")));
}

TEST(CliTest, FlagOfAnotherCommandIsAUsageError) {
  const CliResult result = RunDipwire({"alerts", "--batch", "10"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("unknown flag --batch"));
}

TEST(CliTest, SinksTakesListDeadLettersOrRedeliver) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"sinks"},
           {"sinks", "frob"},
           {"sinks", "list", "extra"},
           {"sinks", "dead-letters"},
           {"sinks", "redeliver"},
           {"sinks", "redeliver", "a", "b"}}) {
    const CliResult result = RunDipwire(args);
    EXPECT_EQ(result.exit_code, 2) << args.size();
    EXPECT_THAT(result.err,
                AllOf(HasSubstr(R"(sinks takes "list", "dead-letters NAME")"),
                      HasSubstr("usage: dipwire sinks list")));
  }
  const CliResult result =
      RunDipwire({"sinks", "redeliver", "wire", "--output", "json"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("unknown flag --output"));
}

TEST(CliTest, FlagWithoutValueIsAUsageError) {
  const CliResult result = RunDipwire({"subscribe", "--filter"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("--filter needs a value"));
}

TEST(CliTest, BadFlagValuesAreUsageErrorsInEitherSpelling) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"publish", "-", "--batch", "0"},
           {"publish", "-", "--batch=many"},
           {"alerts", "--timeout", "soon"},
           {"alerts", "--timeout=-5s"},
           {"events", "--limit=-1"},
           {"alerts", "--output", "xml"},
           {"subscribe", "--heartbeat=0s"},
           {"subscribe", "--from="},
           {"alerts", "--server="},
       }) {
    const CliResult result = RunDipwire(args);
    EXPECT_EQ(result.exit_code, 2) << absl::StrJoin(args, " ");
    EXPECT_THAT(result.err, HasSubstr("error: ")) << absl::StrJoin(args, " ");
  }
}

TEST(CliTest, ATokenIsNotSentInPlaintextToAnotherMachine) {
  // TEST-NET-3: refused before any connection is made.
  const CliResult result = RunDipwire(
      {"alerts", "--server", "203.0.113.1:50051", "--token", "dw_x"});
  // A usage error, as dipwire-ingest reports the same refusal.
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err,
              AllOf(HasSubstr("refusing to send the token in plaintext to "
                              "203.0.113.1:50051"),
                    HasSubstr("--plaintext-token"), Not(HasSubstr("dw_x"))));
}

TEST(CliTest, HealthSendsNoTokenSoRefusesNone) {
  // The health service needs no token: one at hand is not sent, so a
  // plaintext probe of another machine is not refused for it (TEST-NET-3
  // does not answer: the probe fails for that instead).
  const CliResult result =
      RunDipwire({"health", "--server", "203.0.113.1:50051", "--timeout",
                  "200ms", "--token", "dw_x"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, Not(HasSubstr("refusing to send the token")));
}

TEST(CliTest, PublishNeedsExactlyOneFile) {
  EXPECT_EQ(RunDipwire({"publish"}).exit_code, 2);
  EXPECT_EQ(RunDipwire({"publish", "a.jsonl", "b.jsonl"}).exit_code, 2);
}

TEST(CliTest, HelpListsEveryCommandAndFlag) {
  for (const char* help : {"help", "--help", "-h"}) {
    const CliResult result = RunDipwire({help});
    EXPECT_EQ(result.exit_code, 0);
    for (const char* word :
         {"publish",        "subscribe",  "alerts",   "events",
          "--batch",        "--filter",   "--from",   "--output",
          "--heartbeat",    "--limit",    "--server", "--timeout",
          "--no-reconnect", "tokens new", "--roles",  "--tls-ca",
          "--tls-cert",     "--tls-key",  "--token",  "DIPWIRE_TOKEN"}) {
      EXPECT_THAT(result.out, HasSubstr(word)) << help;
    }
  }
}

// --- tokens and connection flags -----------------------------------------

TEST(CliTest, TokensNewPrintsTheTokenOnceAndTheConfigLineWithItsHash) {
  const CliResult result =
      RunDipwire({"tokens", "new", "ingest-bot", "--roles", "publish,admin"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::vector<std::string> lines = Lines(result.out);
  ASSERT_EQ(lines.size(), 2U) << result.out;
  const std::string& token = lines[0];
  EXPECT_THAT(token, ::testing::MatchesRegex("dw_[A-Za-z0-9_-]{43}"));
  EXPECT_EQ(lines[1],
            absl::StrCat("tokens { name: \"ingest-bot\" sha256: \"",
                         Sha256Hex(token), "\" roles: [PUBLISH, ADMIN] }"));
  // The explanation goes to standard error, without the token.
  EXPECT_THAT(result.err,
              AllOf(HasSubstr("only this once"), Not(HasSubstr(token))));
  // Every call makes a new token.
  EXPECT_NE(Lines(RunDipwire({"tokens", "new", "x", "--roles=subscribe"}).out)
                .front(),
            token);
}

TEST(CliTest, TokensNewChecksItsNameAndRoles) {
  EXPECT_THAT(RunDipwire({"tokens", "new", "bot"}).err,
              HasSubstr("--roles is required"));
  EXPECT_THAT(RunDipwire({"tokens", "new", "bot", "--roles", "writer"}).err,
              HasSubstr("\"writer\" is not publish, subscribe or admin"));
  EXPECT_THAT(RunDipwire({"tokens", "new", "a b", "--roles", "admin"}).err,
              HasSubstr("is not a token name"));
  const CliResult result = RunDipwire({"tokens", "list"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.out, IsEmpty());
}

TEST(CliTest, TlsAndTokenFlagsAreCheckedBeforeConnecting) {
  EXPECT_THAT(RunDipwire({"alerts", "--tls-cert", "c.pem"}).err,
              HasSubstr("--tls-cert and --tls-key go together"));
  // Usage errors (2), as dipwire-ingest reports them.
  const CliResult missing = RunDipwire({"alerts", "--tls-ca", "/nonexistent"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("--tls-ca: cannot read /nonexistent"));
  const CliResult bad_token =
      RunDipwire({"alerts", "--token", "dw_secret with\nnewline"});
  EXPECT_EQ(bad_token.exit_code, 2);
  EXPECT_THAT(bad_token.err,
              AllOf(HasSubstr("printable ASCII"), Not(HasSubstr("dw_secret"))));
}

// --- publish ------------------------------------------------------------

TEST(CliTest, PublishReportsAMalformedLineBeforeTheServerIsNeeded) {
  const std::string path = WriteFile(absl::StrCat(
      "# comment\n", TradeLine("tass-1"), "\n\n{\"eventId\": \"tass-2\",\n"));

  const CliResult result = RunDipwire(
      {"publish", path, "--server", "127.0.0.1:1", "--timeout", "2s"});

  EXPECT_EQ(result.exit_code, 1);
  const std::vector<std::string> err = Lines(result.err);
  ASSERT_EQ(err.size(), 2U) << result.err;
  EXPECT_THAT(err[0], HasSubstr("line 4: "));
  EXPECT_THAT(err[1], HasSubstr("error: UNAVAILABLE: "));
  EXPECT_THAT(result.out, IsEmpty());
}

TEST(CliTest, PublishOfAMissingFileFails) {
  const CliResult result = RunDipwire({"publish", "/nonexistent/events.jsonl"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err,
              HasSubstr("error: cannot open /nonexistent/events.jsonl"));
}

TEST(CliTest, PublishPrintsOneLinePerEventAndASummary) {
  FakeAlertService service;
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  const std::string path = WriteFile(absl::StrCat(
      TradeLine("tass-1"), "\n", TradeLine("tass-2"), "\n",
      R"({"eventId":"tass-3","peaceTalk":{"processId":"p","status":"AGREED"}})",
      "\n", TradeLine("tass-1"), "\n"));

  const CliResult result =
      RunDipwire({"publish", path, "--server", server.address()});

  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(Lines(result.out),
              ElementsAre("ACCEPTED seq=1 tass-1 -> al-1-0",
                          "ACCEPTED seq=2 tass-2 -> al-2-0",
                          "ACCEPTED seq=3 tass-3", "DUPLICATE seq=1 tass-1",
                          "3 accepted, 1 duplicate, 0 rejected"));
  EXPECT_THAT(result.err, IsEmpty());
  ASSERT_EQ(service.publish_requests().size(), 1U);  // --batch 100
  EXPECT_EQ(service.publish_requests()[0].events(1).trade().value_usd(),
            240100000000);
}

TEST(CliTest, PublishMapsARejectedBatchToTheFileLineAndGoesOn) {
  FakeAlertService service;
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  // Batches of two: {line 1, line 3} is rejected for line 3, whose event the
  // fake declares invalid; {line 4, line 5} goes through.
  const std::string path = WriteFile(
      absl::StrCat(TradeLine("ok-1"), "\n# skipped\n", TradeLine("bad-3"), "\n",
                   TradeLine("ok-4"), "\n", TradeLine("ok-5"), "\n"));

  const CliResult result = RunDipwire(
      {"publish", path, "--batch=2", "--server=" + server.address()});

  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(
      Lines(result.err),
      ElementsAre(AllOf(HasSubstr("line 3: events[1]"), HasSubstr("bad-3"),
                        Not(HasSubstr("events[0]"))),
                  HasSubstr("lines 1-3: not stored")));
  EXPECT_THAT(Lines(result.out),
              ElementsAre("ACCEPTED seq=1 ok-4 -> al-1-0",
                          "ACCEPTED seq=2 ok-5 -> al-2-0",
                          "2 accepted, 0 duplicate, 2 rejected"));
}

TEST(CliTest, PublishReadsStandardInputForDash) {
  FakeAlertService service;
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());

  const CliResult result =
      RunDipwire({"publish", "-", "--server", server.address()},
                 TradeLine("stdin-1") + "\r\n");

  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(Lines(result.out),
              ElementsAre("ACCEPTED seq=1 stdin-1 -> al-1-0",
                          "1 accepted, 0 duplicate, 0 rejected"));
}

// --- subscribe ----------------------------------------------------------

TEST(CliTest, SubscribePrintsAlertsAsTextAndStopsAtTheLimit) {
  FakeAlertService service;
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  v1::SubscribeResponse heartbeat;
  heartbeat.mutable_heartbeat()->set_head_cursor("c9");
  v1::SubscribeResponse two;
  *two.add_alerts() = TradeRecordAlert();
  *two.add_alerts() = TradeRecordAlert();
  two.mutable_alerts(1)->set_headline("second");
  v1::SubscribeResponse one;
  *one.add_alerts() = TradeRecordAlert();
  one.mutable_alerts(0)->set_headline("third");
  service.set_subscribe_script({heartbeat, two, one}, {},
                               absl::CancelledError(""));

  const CliResult result = RunDipwire(
      {"subscribe", "--server", server.address(), "--from", "earliest",
       "--filter", "severity >= HIGH", "--heartbeat", "5s", "--limit", "2"});

  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(Lines(result.out),
              ElementsAre(FormatAlertLine(TradeRecordAlert()),
                          FormatAlertLine(two.alerts(1))));
  const std::vector<v1::SubscribeRequest> sent = service.subscribe_requests();
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0].position(), v1::SubscribeRequest::EARLIEST);
  EXPECT_EQ(sent[0].filter(), "severity >= HIGH");
  EXPECT_EQ(sent[0].heartbeat_interval().seconds(), 5);
}

TEST(CliTest, SubscribePrintsJsonLinesThatParseBack) {
  FakeAlertService service;
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  v1::SubscribeResponse response;
  *response.add_alerts() = TradeRecordAlert();
  service.set_subscribe_script({response}, {}, absl::OkStatus());
  service.Release();

  const CliResult result =
      RunDipwire({"subscribe", "--server", server.address(), "--output=json"});

  EXPECT_EQ(result.exit_code, 0) << result.err;  // The server ended it.
  const std::vector<std::string> lines = Lines(result.out);
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0], ToJsonLine(TradeRecordAlert()));
  EXPECT_THAT(lines[0], HasSubstr(R"("alertId":"al-3-0")"));
}

TEST(CliTest, SubscribeServerErrorIsOneErrorLine) {
  FakeAlertService service;
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  service.set_subscribe_script(
      {}, {}, absl::InvalidArgumentError("filter: column 1: unknown field"));
  service.Release();

  const CliResult result = RunDipwire(
      {"subscribe", "--server", server.address(), "--filter", "x = 1"});

  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err,
            "error: INVALID_ARGUMENT: filter: column 1: unknown field\n");
}

TEST(CliTest, NoReconnectTakesNoValue) {
  const CliResult result =
      RunDipwire({"subscribe", "--no-reconnect=yes", "--server", "x:1"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("--no-reconnect takes no value"));
  EXPECT_EQ(RunDipwire({"alerts", "--no-reconnect"}).exit_code, 2);
}

TEST(CliTest, SubscribeResumesAfterTheLastPrintedAlertWhenTheStreamBreaks) {
  FakeAlertService service;
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  v1::SubscribeResponse response;
  *response.add_alerts() = TradeRecordAlert();
  response.mutable_alerts(0)->set_cursor("c-3");
  // Every call: one alert, then the connection breaks.
  service.set_subscribe_script({response}, {},
                               absl::UnavailableError("connection reset"));
  service.Release();

  const CliResult result =
      RunDipwire({"subscribe", "--server", server.address(), "--from",
                  "earliest", "--limit", "2"});

  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(Lines(result.out),
              ElementsAre(FormatAlertLine(TradeRecordAlert()),
                          FormatAlertLine(TradeRecordAlert())));
  // The second stream may break again before the command exits.
  const std::vector<std::string> err = Lines(result.err);
  ASSERT_GE(err.size(), 2U) << result.err;
  EXPECT_EQ(err[0],
            "dipwire: connection lost (UNAVAILABLE: connection reset); "
            "reconnecting");
  EXPECT_EQ(err[1],
            "dipwire: reconnected; resuming after the last printed alert");
  const std::vector<v1::SubscribeRequest> sent = service.subscribe_requests();
  ASSERT_GE(sent.size(), 2U);
  EXPECT_EQ(sent[0].position(), v1::SubscribeRequest::EARLIEST);
  EXPECT_EQ(sent[1].after_cursor(), "c-3");
}

TEST(CliTest, SubscribeWithNoReconnectExitsWhenTheStreamBreaks) {
  FakeAlertService service;
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  v1::SubscribeResponse response;
  *response.add_alerts() = TradeRecordAlert();
  service.set_subscribe_script({response}, {},
                               absl::UnavailableError("connection reset"));
  service.Release();

  const CliResult result =
      RunDipwire({"subscribe", "--server", server.address(), "--no-reconnect"});

  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(Lines(result.out),
              ElementsAre(FormatAlertLine(TradeRecordAlert())));
  EXPECT_EQ(result.err, "error: UNAVAILABLE: connection reset\n");
  EXPECT_EQ(service.subscribe_requests().size(), 1U);
}

TEST(CliTest, InterruptWithoutARunningSubscribeDoesNothing) {
  EXPECT_FALSE(InterruptCli());
}

TEST(CliTest, InterruptEndsARunningSubscribeWithExitZero) {
  FakeAlertService service;
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  v1::SubscribeResponse response;
  *response.add_alerts() = TradeRecordAlert();
  service.set_subscribe_script({response}, {}, absl::CancelledError(""));

  CliResult result;
  std::thread cli([&] {
    result = RunDipwire({"subscribe", "--server", server.address()});
  });
  service.subscribed().WaitForNotification();
  const bool interrupted = InterruptCli();
  cli.join();

  EXPECT_TRUE(interrupted);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.err, IsEmpty());
  EXPECT_TRUE(service.saw_cancellation().WaitForNotificationWithTimeout(
      absl::Seconds(10)));
}

// --- alerts, events ----------------------------------------------------

std::vector<v1::Alert> FiveAlerts() {
  std::vector<v1::Alert> alerts;
  for (int i = 1; i <= 5; ++i) {
    alerts.push_back(TradeRecordAlert());
    alerts.back().set_headline(absl::StrCat("alert ", i));
  }
  return alerts;
}

TEST(CliTest, AlertsPagesThroughHistoryUpToTheLimit) {
  FakeAlertService service;
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  const std::vector<v1::Alert> alerts = FiveAlerts();
  service.set_alerts(alerts);
  service.set_max_page_size(2);

  const CliResult result =
      RunDipwire({"alerts", "--server", server.address(), "--limit", "3"});

  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(Lines(result.out), ElementsAre(FormatAlertLine(alerts[0]),
                                             FormatAlertLine(alerts[1]),
                                             FormatAlertLine(alerts[2])));
  // Each page asks for what is still needed.
  EXPECT_THAT(service.list_page_sizes(), ElementsAre(3, 1));
}

TEST(CliTest, AlertsWithLimitZeroListsEverything) {
  FakeAlertService service;
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  service.set_alerts(FiveAlerts());
  service.set_max_page_size(2);

  const CliResult result =
      RunDipwire({"alerts", "--server", server.address(), "--limit", "0"});

  EXPECT_EQ(result.exit_code, 0) << result.err;
  ASSERT_EQ(Lines(result.out).size(), 5U);
  EXPECT_THAT(Lines(result.out).back(), HasSubstr("alert 5"));
  EXPECT_THAT(service.list_page_sizes(), ElementsAre(1000, 1000, 1000));
}

TEST(CliTest, EventsPrintsOneLinePerEventWithItsSequence) {
  FakeAlertService service;
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  absl::StatusOr<v1::DiplomaticEvent> trade = ParseEventJson(TradeLine("t-1"));
  ASSERT_THAT(trade, IsOk());
  v1::DiplomaticEvent summarized = *trade;
  summarized.set_event_id("t-2");
  summarized.set_summary("Trade hits a record");
  service.set_events({*trade, summarized});

  const CliResult result = RunDipwire({"events", "--server", server.address()});

  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(Lines(result.out),
              ElementsAre("seq=1 t-1 trade 2023-12-31 CHN-RUS TOTAL 2023: "
                          "$240,100,000,000 (China customs)",
                          "seq=2 t-2 trade 2023-12-31 Trade hits a record"));
}

TEST(CliTest, ListingFromAnUnreachableServerIsOneErrorLine) {
  const CliResult result = RunDipwire({"events", "--server=127.0.0.1:1"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(Lines(result.err),
              ElementsAre(HasSubstr("error: UNAVAILABLE: ")));
}

// --- ParseFrom ----------------------------------------------------------

TEST(CliTest, FromEarliestAndLatestArePositionsInAnyCase) {
  absl::StatusOr<v1::SubscribeRequest> earliest = ParseFrom("earliest");
  ASSERT_THAT(earliest, IsOk());
  EXPECT_EQ(earliest->position(), v1::SubscribeRequest::EARLIEST);
  absl::StatusOr<v1::SubscribeRequest> latest = ParseFrom("LATEST");
  ASSERT_THAT(latest, IsOk());
  EXPECT_EQ(latest->start_case(), v1::SubscribeRequest::kPosition);
  EXPECT_EQ(latest->position(), v1::SubscribeRequest::LATEST);
}

TEST(CliTest, FromRfc3339TimeIsAStartTime) {
  absl::StatusOr<v1::SubscribeRequest> utc = ParseFrom("2024-04-01T09:00:00Z");
  ASSERT_THAT(utc, IsOk());
  ASSERT_EQ(utc->start_case(), v1::SubscribeRequest::kStartTime);
  EXPECT_EQ(utc->start_time().seconds(), 1711962000);
  EXPECT_EQ(utc->start_time().nanos(), 0);

  absl::StatusOr<v1::SubscribeRequest> offset =
      ParseFrom("2024-04-01T12:00:00.25+03:00");
  ASSERT_THAT(offset, IsOk());
  EXPECT_EQ(offset->start_time().seconds(), 1711962000);
  EXPECT_EQ(offset->start_time().nanos(), 250000000);
}

TEST(CliTest, FromAnythingElseIsACursor) {
  for (const char* cursor : {"c_0000000000000012_ab12", "2024-04-01"}) {
    absl::StatusOr<v1::SubscribeRequest> request = ParseFrom(cursor);
    ASSERT_THAT(request, IsOk());
    ASSERT_EQ(request->start_case(), v1::SubscribeRequest::kAfterCursor);
    EXPECT_EQ(request->after_cursor(), cursor);
  }
}

TEST(CliTest, FromEmptyOrOutOfRangeIsInvalid) {
  EXPECT_THAT(ParseFrom(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseFrom("  "), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      ParseFrom("0000-12-31T23:59:59Z"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("0001..9999")));
}

// --- Line formats ------------------------------------------------------

TEST(CliTest, AlertLineHasUtcTimeToTheSecondPaddedSeverityTypeAndHeadline) {
  EXPECT_EQ(FormatAlertLine(TradeRecordAlert()),
            "2024-04-01T09:00:00Z HIGH   TRADE_RECORD Trade record: CHN-RUS "
            "$240.1 billion in 2023");

  v1::Alert meeting;
  meeting.set_type(v1::Alert::LEADER_MEETING_NEW);
  meeting.set_severity(v1::Alert::MEDIUM);
  meeting.set_headline("Lavrov to visit\nChina");
  meeting.mutable_created_at()->set_seconds(1711962000);
  EXPECT_EQ(FormatAlertLine(meeting),
            "2024-04-01T09:00:00Z MEDIUM LEADER_MEETING_NEW Lavrov to visit "
            "China");
}

TEST(CliTest, EventLineDescribesEventsWithoutSummary) {
  v1::DiplomaticEvent meeting;
  meeting.set_event_id("m-1");
  meeting.mutable_occurred_at()->set_seconds(1712534400);  // 2024-04-08
  meeting.mutable_meeting()->add_participants()->set_name("Sergei Lavrov");
  meeting.mutable_meeting()->add_participants()->set_name("Wang Yi");
  meeting.mutable_meeting()->set_city("Beijing");
  meeting.mutable_meeting()->set_status(v1::LeaderMeeting::SCHEDULED);
  EXPECT_EQ(FormatEventLine(meeting, 7),
            "seq=7 m-1 meeting 2024-04-08 Sergei Lavrov, Wang Yi in Beijing "
            "(SCHEDULED)");

  v1::DiplomaticEvent talk;
  talk.set_event_id("p-1");
  talk.mutable_occurred_at()->set_seconds(1712534400);
  talk.mutable_peace_talk()->set_process_id("ukraine-peace-summit");
  talk.mutable_peace_talk()->set_status(v1::PeaceTalkUpdate::REJECTED);
  EXPECT_EQ(FormatEventLine(talk, 8),
            "seq=8 p-1 peace_talk 2024-04-08 ukraine-peace-summit: REJECTED");
}

}  // namespace
}  // namespace dipwire::client

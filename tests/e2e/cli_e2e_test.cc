// The dipwire CLI against the real dipwired: what a newsroom engineer types.

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/dipwired_process.h"
#include "tests/testing/status_matchers.h"

namespace dipwire {
namespace {

using ::dipwire::testing::DipwiredProcess;
using ::dipwire::testing::IsOk;
using ::dipwire::testing::NewTempDir;
using ::testing::AllOf;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string Quote(const std::string& arg) {
  std::string quoted = "'";
  for (char c : arg) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

class CliEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("cli");
    auto server = DipwiredProcess::Start(dir_ + "/data");
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
    address_ = server_->address();
  }

  std::string OutPath(const std::string& name) const {
    return absl::StrCat(dir_, "/", name, ".out");
  }

  // Waits (at most 30 s) until the run `name` has printed `count` lines.
  bool AwaitOutputLines(const std::string& name, size_t count) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (Lines(ReadFile(OutPath(name))).size() < count) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(20));  // Polls a file: no event.
    }
    return true;
  }

  // Runs the dipwire CLI with `args` (and --server), bounded to 60 s by
  // coreutils' timeout. Its output goes to the files `<dir>/<name>.out` and
  // `.err`; runs at the same time need different names.
  CliRun Dipwire(const std::vector<std::string>& args,
                 const std::string& name = "run") {
    std::vector<std::string> quoted;
    quoted.reserve(args.size());
    for (const std::string& arg : args) quoted.push_back(Quote(arg));
    const std::string out_path = OutPath(name);
    const std::string err_path = absl::StrCat(dir_, "/", name, ".err");
    const std::string command = absl::StrCat(
        "timeout 60 ", DIPWIRE_CLI_PATH, " ", absl::StrJoin(quoted, " "),
        " --server ", address_, " >", out_path, " 2>", err_path, " </dev/null");
    // NOLINTNEXTLINE(concurrency-mt-unsafe): glibc's system() is MT-safe.
    const int status = std::system(command.c_str());
    CliRun run;
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.out = ReadFile(out_path);
    run.err = ReadFile(err_path);
    return run;
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream(path) << text;
    return path;
  }

  // Starts dipwired again on the same data and address (the test stopped
  // it), then publishes one more event, which yields one alert. No ASSERT:
  // the callers have a CLI running, which they must join.
  void RestartAndPublishOneMore() {
    auto restarted =
        DipwiredProcess::Start(dir_ + "/data", {"--listen", address_});
    EXPECT_THAT(restarted, IsOk());
    if (restarted.ok()) server_ = *std::move(restarted);
    // The CLI's own channel may still wait to reconnect; publishing retries
    // on UNAVAILABLE until the server answers (bounded).
    const std::string late = WriteFile(
        "late.jsonl",
        R"({"eventId":"late-1","occurredAt":"2024-05-01T00:00:00Z",)"
        R"("source":{"outlet":"AP"},"peaceTalk":{"processId":"late-talks",)"
        R"("status":"PROPOSED","parties":["UKR"]}})"
        "\n");
    int published = -1;
    for (int i = 0; i < 30 && published != 0; ++i) {
      published = Dipwire({"publish", late}).exit_code;
    }
    EXPECT_EQ(published, 0);
  }

  // Publishes kBulkEvents events, one alert each: more lines of output
  // than a pipe holds.
  void PublishMoreAlertsThanAPipeHolds() {
    std::string bulk;
    for (int i = 0; i < kBulkEvents; ++i) {
      absl::StrAppend(&bulk, R"({"eventId":"bulk-)", i,
                      R"(","occurredAt":"2024-05-01T00:00:00Z",)",
                      R"("source":{"outlet":"AP"},"peaceTalk":{"processId":")",
                      "talks-", i,
                      R"(","status":"PROPOSED","parties":["UKR"]}})", "\n");
    }
    ASSERT_EQ(Dipwire({"publish", WriteFile("bulk.jsonl", bulk)}).exit_code, 0);
  }

  // Runs `dipwire subscribe --subscription desk --from earliest --limit
  // <limit>` with its output into a FIFO that nothing reads until the pipe
  // is full: the CLI is then blocked mid-response. Kills the server, then
  // reads the output to the CLI's end while `meanwhile` runs. The acks of
  // the alerts the CLI still holds fail with UNAVAILABLE.
  CliRun SubscribeAcrossAKill(int limit,
                              const std::function<void()>& meanwhile) {
    CliRun run;
    // Opened first, without blocking, so that the CLI's open succeeds.
    const std::string fifo = absl::StrCat(dir_, "/subscriber.fifo");
    EXPECT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    const int out_fd = open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    EXPECT_GE(out_fd, 0);
    if (out_fd < 0) return run;
    const std::string err_path = absl::StrCat(dir_, "/subscriber.err");
    const std::string command = absl::StrCat(
        "timeout 90 ", DIPWIRE_CLI_PATH,
        " subscribe --subscription desk --from earliest --heartbeat 1s",
        " --limit ", limit, " --server ", address_, " >", fifo, " 2>", err_path,
        " </dev/null");
    std::thread cli([&] {
      // NOLINTNEXTLINE(concurrency-mt-unsafe): glibc's system() is MT-safe.
      const int status = std::system(command.c_str());
      run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    });
    // No ASSERT while `cli` runs (it must be joined); it is bounded by
    // timeout(1), and every loop here by a deadline.
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    int buffered = 0;
    while (buffered < 60000 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));  // Polls a pipe: no event.
      ioctl(out_fd, FIONREAD, &buffered);
    }
    EXPECT_GE(buffered, 60000) << "the CLI never filled its output pipe";
    EXPECT_THAT(server_->Stop(SIGKILL, absl::Seconds(15)), IsOk());
    server_.reset();
    std::thread reader([&] {
      std::array<char, 65536> buf{};
      while (absl::Now() < deadline) {
        const ssize_t n = read(out_fd, buf.data(), buf.size());
        if (n == 0) break;  // The CLI exited.
        if (n > 0) {
          run.out.append(buf.data(), static_cast<size_t>(n));
        } else {
          absl::SleepFor(absl::Milliseconds(5));
        }
      }
    });
    meanwhile();
    cli.join();
    reader.join();
    close(out_fd);
    run.err = ReadFile(err_path);
    return run;
  }

  static constexpr int kBulkEvents = 1500;

  std::string dir_;
  std::string address_;
  std::unique_ptr<DipwiredProcess> server_;
};

constexpr absl::string_view kGoodEvent =
    R"({"eventId":"cli-1","occurredAt":"2024-04-08T00:00:00Z",)"
    R"("reportedAt":"2024-04-07T00:00:00Z","source":{"outlet":"TASS"},)"
    R"("meeting":{"participants":[{"name":"Sergei Lavrov","country":"RUS",)"
    R"("role":"FOREIGN_MINISTER"},{"name":"Wang Yi","country":"CHN",)"
    R"("role":"FOREIGN_MINISTER"}],"city":"Beijing","status":"SCHEDULED"}})";
constexpr absl::string_view kBadCountryEvent =
    R"({"eventId":"cli-2","occurredAt":"2024-04-08T00:00:00Z",)"
    R"("source":{"outlet":"TASS"},"trade":{"countryA":"CHN","countryB":"RU",)"
    R"("year":2023,"valueUsd":"5","flow":"TOTAL","reporter":"customs"}})";

TEST_F(CliEndToEndTest, PublishReportsTheServersReasonWithTheLineNumber) {
  const std::string file = WriteFile(
      "events.jsonl", absl::StrCat("# two events, the second one invalid\n",
                                   kGoodEvent, "\n", kBadCountryEvent, "\n"));
  CliRun run = Dipwire({"publish", "--batch", "1", file});
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("ACCEPTED seq=1 cli-1 -> al-1-0"));
  EXPECT_THAT(run.err, AllOf(HasSubstr("line 3:"), HasSubstr("trade.country_b"),
                             HasSubstr("RU")));
  EXPECT_THAT(run.out, HasSubstr("1 accepted, 0 duplicate, 1 rejected"));

  // Publishing the good line again is a duplicate, and exits 0.
  run = Dipwire({"publish", WriteFile("again.jsonl", std::string(kGoodEvent))});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("DUPLICATE seq=1 cli-1"));
}

TEST_F(CliEndToEndTest, SubscribePrintsOneReadableLinePerAlert) {
  CliRun run = Dipwire({"publish", std::string(DIPWIRE_SOURCE_DIR) +
                                       "/deploy/demo/seed-article.jsonl"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::vector<std::string> expected = Lines(ReadFile(
      std::string(DIPWIRE_SOURCE_DIR) + "/deploy/demo/seed-article.expected"));

  run = Dipwire({"subscribe", "--from", "earliest", "--limit",
                 absl::StrCat(expected.size())});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  const std::vector<std::string> lines = Lines(run.out);
  ASSERT_THAT(lines, SizeIs(expected.size()));
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::vector<std::string> fields = absl::StrSplit(expected[i], '\t');
    ASSERT_THAT(fields, SizeIs(4));
    // time, severity, type, headline
    EXPECT_THAT(lines[i],
                AllOf(ContainsRegex("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z "),
                      HasSubstr(absl::StrCat(" ", fields[1], " ", fields[3]))));
    EXPECT_THAT(lines[i], HasSubstr(fields[2]));
  }

  run = Dipwire({"subscribe", "--from", "earliest", "--filter",
                 "type = TRADE_RECORD", "--limit", "1", "--output", "json"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(Lines(run.out), SizeIs(1));
  EXPECT_THAT(run.out, HasSubstr(R"("type":"TRADE_RECORD")"));
}

TEST_F(CliEndToEndTest, DurableSubscribeResumesAfterWhatItPrinted) {
  ASSERT_EQ(Dipwire({"publish", std::string(DIPWIRE_SOURCE_DIR) +
                                    "/deploy/demo/seed-article.jsonl"})
                .exit_code,
            0);
  CliRun run = Dipwire({"subscribe", "--from", "earliest", "--limit", "5"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::vector<std::string> all = Lines(run.out);
  ASSERT_THAT(all, SizeIs(5));

  run = Dipwire({"subscribe", "--subscription", "desk", "--from", "earliest",
                 "--limit", "3"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Lines(run.out),
            std::vector<std::string>(all.begin(), all.begin() + 3));
  // A restart prints exactly what it has not printed before.
  run = Dipwire({"subscribe", "--subscription", "desk", "--limit", "2"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Lines(run.out),
            std::vector<std::string>(all.begin() + 3, all.end()));

  run = Dipwire({"subscriptions", "list"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_THAT(Lines(run.out), SizeIs(1));
  EXPECT_THAT(run.out, ContainsRegex("^desk [A-Za-z0-9_-]+ [0-9-]+T[0-9:]+Z"));
  run = Dipwire({"subscriptions", "delete", "desk"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  run = Dipwire({"subscriptions", "delete", "desk"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("desk"));
  EXPECT_EQ(Dipwire({"subscriptions", "frobnicate"}).exit_code, 2);
}

TEST_F(CliEndToEndTest, AlertsAndEventsListHistoryWithFilters) {
  ASSERT_EQ(Dipwire({"publish", std::string(DIPWIRE_SOURCE_DIR) +
                                    "/deploy/demo/seed-article.jsonl"})
                .exit_code,
            0);
  CliRun run =
      Dipwire({"alerts", "--filter", "countries:CHN AND countries:RUS"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  // 3 meetings, 2 trade figures and the 12-point plan (parties CHN, RUS, UKR)
  EXPECT_THAT(Lines(run.out), SizeIs(6));
  EXPECT_THAT(run.out, HasSubstr("Trade record: CHN–RUS"));

  run = Dipwire({"events", "--filter", "kind = trade", "--limit", "0"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(Lines(run.out), SizeIs(4));

  run = Dipwire({"alerts", "--filter", "severity >= URGENT"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, AllOf(HasSubstr("error: INVALID_ARGUMENT"),
                             HasSubstr("column 13")));
}

TEST_F(CliEndToEndTest, SubscribeSurvivesAServerRestartWithoutGapOrRepeat) {
  const std::string seed =
      std::string(DIPWIRE_SOURCE_DIR) + "/deploy/demo/seed-article.jsonl";
  ASSERT_EQ(Dipwire({"publish", seed}).exit_code, 0);
  CliRun all = Dipwire({"alerts", "--limit", "0"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  const size_t before = Lines(all.out).size();
  ASSERT_GT(before, 0U);

  // Prints the seed's alerts, then the one published after the restart.
  CliRun subscriber;
  std::thread cli([&] {
    subscriber = Dipwire({"subscribe", "--from", "earliest", "--heartbeat",
                          "1s", "--limit", absl::StrCat(before + 1)},
                         "subscriber");
  });
  // No ASSERT while `cli` runs (it must be joined); the CLI is bounded by
  // its own timeout.
  EXPECT_TRUE(AwaitOutputLines("subscriber", before));
  EXPECT_THAT(server_->Stop(SIGKILL, absl::Seconds(15)), IsOk());
  server_.reset();
  RestartAndPublishOneMore();
  cli.join();

  EXPECT_EQ(subscriber.exit_code, 0) << subscriber.err;
  all = Dipwire({"alerts", "--limit", "0"});
  EXPECT_EQ(Lines(subscriber.out), Lines(all.out));
  EXPECT_THAT(subscriber.err, AllOf(HasSubstr("connection lost (UNAVAILABLE"),
                                    HasSubstr("reconnected")));
}

TEST_F(CliEndToEndTest,
       DurableSubscribeKeepsPrintingWhenItsAcksFailInAnOutage) {
  PublishMoreAlertsThanAPipeHolds();
  const CliRun run = SubscribeAcrossAKill(
      kBulkEvents + 1, [this] { RestartAndPublishOneMore(); });

  // Every alert once, in order, the late one last; the acks that failed
  // did not end the command.
  EXPECT_EQ(run.exit_code, 0) << run.err;
  const CliRun all = Dipwire({"alerts", "--limit", "0"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  const std::vector<std::string> want = Lines(all.out);
  const std::vector<std::string> got = Lines(run.out);
  EXPECT_THAT(want, SizeIs(kBulkEvents + 1));
  size_t same = 0;
  while (same < got.size() && same < want.size() && got[same] == want[same]) {
    ++same;
  }
  EXPECT_EQ(same, want.size())
      << "printed " << got.size() << " lines; the first that differs is line "
      << same + 1;
  EXPECT_EQ(got.size(), want.size());
  EXPECT_THAT(run.err,
              AllOf(HasSubstr("connection lost"), HasSubstr("reconnected"),
                    Not(HasSubstr("error:"))));
}

TEST_F(CliEndToEndTest, DurableSubscribeFailsWhenTheAckOfItsLastAlertFails) {
  // --limit ends the command at an alert printed while the server is down:
  // no later ack or re-subscribe can move the subscription past it, so the
  // command must not report success.
  // The limit lies past what fills the pipe (about 770 lines) and within
  // the first response (1,000 alerts, the hub's bound): the CLI holds the
  // limit's alert when the server dies, however far its reader has got.
  PublishMoreAlertsThanAPipeHolds();
  constexpr int kLimit = 900;
  const CliRun run = SubscribeAcrossAKill(kLimit, [] {});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("error: UNAVAILABLE"));
  EXPECT_THAT(Lines(run.out), SizeIs(kLimit));
}

TEST_F(CliEndToEndTest, SubscribeWithNoReconnectExitsWhenTheServerStops) {
  ASSERT_EQ(Dipwire({"publish",
                     WriteFile("one.jsonl", std::string(kGoodEvent) + "\n")})
                .exit_code,
            0);
  CliRun subscriber;
  std::thread cli([&] {
    subscriber = Dipwire({"subscribe", "--from", "earliest", "--no-reconnect"},
                         "subscriber");
  });
  EXPECT_TRUE(AwaitOutputLines("subscriber", 1));  // No ASSERT: see above.
  // SIGTERM: the server ends its streams with UNAVAILABLE.
  EXPECT_THAT(server_->Stop(SIGTERM, absl::Seconds(15)), IsOk());
  server_.reset();
  cli.join();

  EXPECT_EQ(subscriber.exit_code, 1);
  EXPECT_THAT(subscriber.err, HasSubstr("error: UNAVAILABLE"));
  EXPECT_THAT(subscriber.err, Not(HasSubstr("reconnecting")));
}

TEST_F(CliEndToEndTest, HealthExitsZeroWhenServingAndOneWhenNothingListens) {
  CliRun run = Dipwire({"health"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "SERVING\n");
  run = Dipwire({"health", "--service", "dipwire.v1.AlertService"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "SERVING\n");
  run = Dipwire({"health", "--service", "no.such.Service"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("NOT_FOUND"));

  ASSERT_THAT(server_->Stop(SIGTERM, absl::Seconds(15)), IsOk());
  server_.reset();
  run = Dipwire({"health", "--timeout", "5s"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_THAT(run.err, HasSubstr("UNAVAILABLE"));
}

}  // namespace
}  // namespace dipwire

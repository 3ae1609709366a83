// dipwire-bench: drives dipwired, a bare gRPC broadcast server
// (dipwire-bare-server) and Redis Streams with the same load and reports
// each figure as a ratio to bare and to Redis measured in the same run.
// PERFORMANCE.md ("dipwire-bench") tells how to run it and what it found.
//
//   dipwire-bench [--scenario NAME]... [--rounds 3] [--modes
//   dipwire,bare,redis]
//                 [--count N] [--publishers N] [--events-per-request N]
//                 [--in-flight N] [--unary] [--subscribers N] [--rate N]
//                 [--filter F] [--dipwired PATH] [--bare-server PATH]
//                 [--redis-server PATH] [--tmpdir DIR] [--idle-timeout S]
//
// Without --scenario it runs one ad-hoc live run shaped by the flags; with
// it, the flags override the named scenarios' defaults. Every run starts its
// own server on 127.0.0.1 in a fresh temporary directory (removed
// afterwards). In each round the modes run one after the other, the order
// rotating from round to round. Exits 1 when a run fails or loses an alert.

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_support.h"
#include "bench/load.h"
#include "bench/servers.h"

namespace dipwire::bench {
namespace {

// --- Scenarios -------------------------------------------------------------

enum class Kind {
  kLive,     // subscribers attached, then publishers run
  kCatchUp,  // events stored first, then one subscriber from EARLIEST
  kIdle,     // subscribers attached, nothing published: memory
  kStalled,  // kLive with one more subscriber that reads nothing, and
             // without it (same round, same mode): memory and p99
  kRestart,  // events stored, the server restarted: time until it serves
};

struct Scenario {
  std::string name;
  Kind kind = Kind::kLive;
  PublishShape shape;
  int subscribers = 0;
  int64_t count = 0;
  // Redis with appendfsync always (durable ingest), else everysec.
  bool fsync_always = false;
  std::string filter;
};

PublishShape Shape(int publishers, int per_request, double rate = 0) {
  PublishShape shape;
  shape.publishers = publishers;
  shape.events_per_request = per_request;
  shape.rate = rate;
  return shape;
}

// The scenarios, with counts that keep a three-round run of all of
// them within about 20 minutes on two cores (--count scales them).
std::vector<Scenario> NamedScenarios() {
  return {
      {"ingest-1x1", Kind::kLive, Shape(1, 1), 0, 20'000, true, ""},
      {"ingest-1x64", Kind::kLive, Shape(1, 64), 0, 128'000, true, ""},
      {"ingest-4x1", Kind::kLive, Shape(4, 1), 0, 20'000, true, ""},
      {"ingest-4x64", Kind::kLive, Shape(4, 64), 0, 128'000, true, ""},
      {"fanout-10", Kind::kLive, Shape(1, 1), 10, 20'000, false, ""},
      {"fanout-100", Kind::kLive, Shape(1, 1), 100, 5'000, false, ""},
      {"rate-1000x100", Kind::kLive, Shape(1, 1, 1000), 100, 10'000, false, ""},
      {"rate-100x1000", Kind::kLive, Shape(1, 1, 100), 1000, 500, false, ""},
      {"catchup", Kind::kCatchUp, Shape(1, 64), 1, 100'000, false, ""},
      {"idle-1000", Kind::kIdle, Shape(1, 1), 1000, 0, false, ""},
      {"stalled", Kind::kStalled, Shape(1, 64, 10'000), 10, 100'000, false, ""},
      {"restart", Kind::kRestart, Shape(1, 64), 0, 100'000, false, ""},
  };
}

// --- Flags -----------------------------------------------------------------

struct Options {
  std::vector<std::string> scenarios;
  int rounds = 3;
  std::vector<Mode> modes = {Mode::kDipwire, Mode::kBare, Mode::kRedis};
  Programs programs{DIPWIRE_DIPWIRED_PATH, DIPWIRE_BARE_SERVER_PATH};
  std::string tmpdir = "/tmp";
  int idle_timeout_s = 20;
  // Overrides of the scenarios' shapes.
  std::optional<int64_t> count;
  std::optional<int> publishers;
  std::optional<int> events_per_request;
  std::optional<int> in_flight;
  std::optional<int> subscribers;
  std::optional<double> rate;
  std::optional<std::string> filter;
  bool unary = false;
};

template <typename Int>
bool Positive(absl::string_view text, std::optional<Int>* out, Int min = 1) {
  Int value{};
  if (!absl::SimpleAtoi(text, &value) || value < min) return false;
  *out = value;
  return true;
}

bool NonNegative(absl::string_view text, std::optional<double>* out) {
  double value = 0;
  if (!absl::SimpleAtod(text, &value) || !(value >= 0)) return false;
  *out = value;
  return true;
}

bool ParseModes(absl::string_view text, std::vector<Mode>* modes) {
  modes->clear();
  for (absl::string_view name : absl::StrSplit(text, ',')) {
    bool known = false;
    for (int m = 0; m < kModes; ++m) {
      if (name == ModeName(static_cast<Mode>(m))) {
        modes->push_back(static_cast<Mode>(m));
        known = true;
      }
    }
    if (!known) return false;
  }
  return !modes->empty();
}

// Sets the flag `flag` (which takes a value) from `value`; false when the
// flag is unknown or the value bad.
bool ParseFlag(const std::string& flag, absl::string_view value,
               Options* options) {
  std::optional<int> number;
  if (flag == "--scenario") {
    options->scenarios.emplace_back(value);
  } else if (flag == "--rounds" || flag == "--idle-timeout") {
    if (!Positive(value, &number)) return false;
    (flag == "--rounds" ? options->rounds : options->idle_timeout_s) = *number;
  } else if (flag == "--modes") {
    return ParseModes(value, &options->modes);
  } else if (flag == "--count") {
    return Positive<int64_t>(value, &options->count);
  } else if (flag == "--publishers") {
    return Positive(value, &options->publishers);
  } else if (flag == "--events-per-request") {
    return Positive(value, &options->events_per_request);
  } else if (flag == "--in-flight") {
    return Positive(value, &options->in_flight);
  } else if (flag == "--subscribers") {
    return Positive(value, &options->subscribers, 0);
  } else if (flag == "--rate") {
    return NonNegative(value, &options->rate);
  } else if (flag == "--filter") {
    options->filter = std::string(value);
  } else if (flag == "--dipwired") {
    options->programs.dipwired = std::string(value);
  } else if (flag == "--bare-server") {
    options->programs.bare_server = std::string(value);
  } else if (flag == "--redis-server") {
    options->programs.redis_server = std::string(value);
  } else if (flag == "--tmpdir") {
    options->tmpdir = std::string(value);
  } else {
    return false;
  }
  return true;
}

// Returns an error message, empty when the flags are good.
std::string Parse(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--unary") {
      options->unary = true;
    } else if (i + 1 >= argc) {
      return absl::StrCat(flag, " needs a value (or is unknown)");
    } else if (!ParseFlag(flag, argv[++i], options)) {
      return absl::StrCat("unknown flag ", flag, " or bad value \"", argv[i],
                          "\"");
    }
  }
  return "";
}

// Applies the flags that override a scenario's shape.
void Override(const Options& options, Scenario* s) {
  if (options.count) s->count = *options.count;
  if (options.publishers) s->shape.publishers = *options.publishers;
  if (options.events_per_request) {
    s->shape.events_per_request = *options.events_per_request;
  }
  if (options.in_flight) s->shape.in_flight = *options.in_flight;
  if (options.unary) s->shape.unary = true;
  if (options.rate) s->shape.rate = *options.rate;
  if (options.filter) s->filter = *options.filter;
  // Not where the scenario has none (ingest) or exactly one (catch-up).
  if (options.subscribers && s->subscribers > 1) {
    s->subscribers = *options.subscribers;
  }
}

// The scenarios to run, with the flags' overrides; an error names an
// unknown scenario.
absl::StatusOr<std::vector<Scenario>> Select(const Options& options) {
  const std::vector<Scenario> named = NamedScenarios();
  std::vector<Scenario> chosen;
  if (options.scenarios.empty()) {
    chosen.push_back(
        {"custom", Kind::kLive, Shape(1, 1), 10, 10'000, false, ""});
  }
  for (const std::string& name : options.scenarios) {
    bool known = false;
    for (const Scenario& scenario : named) {
      if (name == "all" || name == scenario.name) {
        chosen.push_back(scenario);
        known = true;
      }
    }
    if (!known) {
      std::vector<std::string> names = {"all"};
      for (const Scenario& scenario : named) names.push_back(scenario.name);
      return absl::InvalidArgumentError(
          absl::StrCat("--scenario ", name,
                       " is unknown; known: ", absl::StrJoin(names, ", ")));
    }
  }
  for (Scenario& s : chosen) Override(options, &s);
  return chosen;
}

std::string Describe(const Scenario& s) {
  const PublishShape& p = s.shape;
  const std::string redis = s.fsync_always ? "; redis appendfsync always"
                                           : "; redis appendfsync everysec";
  switch (s.kind) {
    case Kind::kIdle:
      return absl::StrCat(s.subscribers, " idle subscribers", redis);
    case Kind::kCatchUp:
      return absl::StrCat(s.count,
                          " events stored, then 1 subscriber from EARLIEST "
                          "(bare: live fan-out to 1 subscriber)",
                          redis);
    case Kind::kRestart:
      return absl::StrCat(s.count, " events stored, then a restart", redis);
    case Kind::kLive:
    case Kind::kStalled:
      break;
  }
  const std::string rate = p.rate > 0 ? absl::StrCat(p.rate, " events/s")
                                      : std::string("unlimited rate");
  const std::string publish =
      p.unary ? absl::StrCat(p.publishers, " x ", p.in_flight, " unary callers")
              : absl::StrCat(p.publishers, " PublishStream(s), ", p.in_flight,
                             " requests in flight");
  return absl::StrCat(
      s.count, " events, ", p.events_per_request, " per request, ", publish,
      ", ", rate, "; ", s.subscribers, " subscriber(s)",
      s.kind == Kind::kStalled ? " + 1 stalled (and a run without it)" : "",
      s.filter.empty() ? "" : ", filter " + s.filter, redis);
}

// --- Figures ---------------------------------------------------------------

enum Metric {
  kEventsPerS,
  kDeliveriesPerS,
  kDeliveriesPerRead,
  kP50Ms,
  kP99Ms,
  kMaxMs,
  kLost,
  kServerCpuS,
  kServerCpuUsPerMsg,
  kServerPeakRssMib,
  kToolCpuS,
  kToolCpuUsPerMsg,
  kKibPerSubscriber,
  kRssGrowthMib,
  kRssGrowthNoStallMib,
  kP99VsNoStall,
  kP99LateVsEarly,
  kServingS,
  kMetricCount,
};

struct MetricInfo {
  const char* name;
  int decimals;
};

constexpr std::array<MetricInfo, kMetricCount> kMetrics = {{
    {"events/s", 0},
    {"deliveries/s", 0},
    {"deliveries per read", 2},
    {"latency p50 ms", 2},
    {"latency p99 ms", 2},
    {"latency max ms", 2},
    {"lost", 0},
    {"server CPU s", 2},
    {"server CPU us/msg", 2},
    {"server peak RSS MiB", 1},
    {"tool CPU s", 2},
    {"tool CPU us/msg", 2},
    {"server KiB/subscriber", 1},
    {"server RSS growth MiB", 1},
    {"  same without stall MiB", 1},
    {"p99 / p99 without stall", 2},
    {"p99 2nd half / 1st half", 2},
    {"serving after restart s", 3},
}};

using Figures = std::array<double, kMetricCount>;

Figures NoFigures() {
  Figures figures;
  figures.fill(std::numeric_limits<double>::quiet_NaN());
  return figures;
}

// --- Runs ------------------------------------------------------------------

struct Run {
  const Options& options;
  const Scenario& scenario;
  Mode mode;
};

// A server of the run's mode in a fresh temporary directory.
struct Running {
  std::unique_ptr<TempDir> dir;
  int redis_port = 0;
  std::unique_ptr<ServerProcess> server;  // after dir: ends before it
};

// (Re)starts `running`'s server on its directory and port.
absl::Status StartServer(const Run& run, Running* running) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start(
      run.mode, run.options.programs, running->dir->path(),
      run.scenario.fsync_always, running->redis_port, absl::Seconds(120));
  if (!server.ok()) return server.status();
  running->server = *std::move(server);
  return absl::OkStatus();
}

absl::StatusOr<Running> StartFresh(const Run& run) {
  Running running;
  absl::StatusOr<std::unique_ptr<TempDir>> dir =
      TempDir::Create(run.options.tmpdir);
  if (!dir.ok()) return dir.status();
  running.dir = *std::move(dir);
  if (run.mode == Mode::kRedis) {
    absl::StatusOr<int> port = FreePort();
    if (!port.ok()) return port.status();
    running.redis_port = *port;
  }
  absl::Status started = StartServer(run, &running);
  if (!started.ok()) return started;
  return running;
}

absl::StatusOr<std::vector<std::unique_ptr<Subscriber>>> Attach(
    const Run& run, const ServerProcess& server, int live, bool stalled,
    bool earliest, Progress* progress) {
  std::vector<std::unique_ptr<Subscriber>> subscribers;
  for (int s = 0; s < live + (stalled ? 1 : 0); ++s) {
    SubscriberOptions options;
    options.index = s;
    options.count = run.scenario.count;
    options.earliest = earliest;
    options.stalled = s == live;
    if (run.mode == Mode::kDipwire) options.filter = run.scenario.filter;
    absl::StatusOr<std::unique_ptr<Subscriber>> subscriber =
        StartSubscriber(run.mode, server.address(), options, progress);
    if (!subscriber.ok()) return subscriber.status();
    subscribers.push_back(*std::move(subscriber));
  }
  for (auto& subscriber : subscribers) {
    absl::Status attached = subscriber->AwaitAttached(absl::Seconds(60));
    if (!attached.ok()) return attached;
  }
  return subscribers;
}

// Lost deliveries, latencies and the last delivery of the first `live`
// subscribers (stopped first).
struct Deliveries {
  int64_t unique = 0;
  int64_t lost = 0;
  // Reads that carried alerts, and the alerts they carried: how many a
  // response (an XREAD reply) brought on average.
  int64_t reads = 0;
  int64_t read_alerts = 0;
  int64_t last_ns = 0;
  std::vector<int64_t> latency_ns;
  // Each subscriber's first and second half of its deliveries: does the
  // latency grow with the run's length?
  std::vector<int64_t> early_ns;
  std::vector<int64_t> late_ns;
};

Deliveries Collect(std::vector<std::unique_ptr<Subscriber>>* subscribers,
                   int live, int64_t count) {
  Deliveries out;
  // All at once: a Redis subscriber takes up to a second to notice.
  for (auto& subscriber : *subscribers) subscriber->Cancel();
  for (auto& subscriber : *subscribers) subscriber->Stop();
  for (int s = 0; s < live; ++s) {
    const Tally& tally = (*subscribers)[static_cast<size_t>(s)]->tally();
    out.unique += tally.unique();
    out.lost += count - tally.unique();
    out.reads += tally.reads();
    out.read_alerts += tally.read_alerts();
    out.last_ns = std::max(out.last_ns, tally.last_ns());
    const std::vector<int64_t>& latency = tally.latency_ns();
    const auto half =
        latency.begin() + static_cast<std::ptrdiff_t>(latency.size() / 2);
    out.latency_ns.insert(out.latency_ns.end(), latency.begin(), latency.end());
    out.early_ns.insert(out.early_ns.end(), latency.begin(), half);
    out.late_ns.insert(out.late_ns.end(), half, latency.end());
  }
  return out;
}

double DeliveriesPerRead(const Deliveries& got) {
  return got.reads > 0 ? static_cast<double>(got.read_alerts) /
                             static_cast<double>(got.reads)
                       : std::numeric_limits<double>::quiet_NaN();
}

absl::Status StopServer(ServerProcess& server) {
  const int code = server.Stop(absl::Seconds(60));
  return code == 0 ? absl::OkStatus()
                   : absl::InternalError(absl::StrCat("the server exited with ",
                                                      code, " on SIGTERM"));
}

// The server's and the tool's CPU between two samples, per message
// (delivery, or event when nothing subscribes), and the server's peak RSS.
void FillCpu(const ProcessSample& before, const ProcessSample& after,
             double tool_cpu, double messages, Figures* f) {
  Figures& out = *f;
  out[kServerCpuS] = after.cpu_s - before.cpu_s;
  out[kServerCpuUsPerMsg] = out[kServerCpuS] * 1e6 / std::max(messages, 1.0);
  out[kServerPeakRssMib] = static_cast<double>(after.hwm_kib) / 1024;
  out[kToolCpuS] = tool_cpu;
  out[kToolCpuUsPerMsg] = tool_cpu * 1e6 / std::max(messages, 1.0);
}

// Subscribers attached, then the publishers; the bare catch-up row is a
// live run with one subscriber.
absl::StatusOr<Figures> RunLive(const Run& run, int live, bool stalled) {
  const Scenario& s = run.scenario;
  absl::StatusOr<Running> running = StartFresh(run);
  if (!running.ok()) return running.status();
  ServerProcess& server = *running->server;
  Progress progress;
  auto subscribers = Attach(run, server, live, stalled, false, &progress);
  if (!subscribers.ok()) return subscribers.status();
  const ProcessSample before = SampleProcess(server.pid());
  const double tool_before = OwnCpuSeconds();
  int64_t start_ns = 0;
  absl::Status published =
      Publish(run.mode, server.address(), s.shape, s.count, &start_ns);
  if (!published.ok()) return published;
  const int64_t published_ns = NowNanos();
  progress.Await(live * s.count, absl::Seconds(run.options.idle_timeout_s));
  const ProcessSample after = SampleProcess(server.pid());
  const double tool_cpu = OwnCpuSeconds() - tool_before;
  Deliveries got = Collect(&*subscribers, live, s.count);
  absl::Status stopped = StopServer(server);
  if (!stopped.ok()) return stopped;

  Figures f = NoFigures();
  f[kEventsPerS] = static_cast<double>(s.count) /
                   (static_cast<double>(published_ns - start_ns) / 1e9);
  const auto messages = static_cast<double>(live > 0 ? got.unique : s.count);
  if (live > 0) {
    f[kDeliveriesPerS] =
        static_cast<double>(got.unique) /
        (static_cast<double>(std::max(got.last_ns, published_ns) - start_ns) /
         1e9);
    f[kDeliveriesPerRead] = DeliveriesPerRead(got);
    f[kP50Ms] = PercentileMs(&got.latency_ns, 0.5);
    f[kP99Ms] = PercentileMs(&got.latency_ns, 0.99);
    f[kMaxMs] = PercentileMs(&got.latency_ns, 1.0);
    f[kLost] = static_cast<double>(got.lost);
    if (s.shape.rate > 0) {
      f[kP99LateVsEarly] = PercentileMs(&got.late_ns, 0.99) /
                           std::max(PercentileMs(&got.early_ns, 0.99), 1e-9);
    }
  }
  FillCpu(before, after, tool_cpu, messages, &f);
  f[kRssGrowthMib] = static_cast<double>(after.hwm_kib - before.rss_kib) / 1024;
  return f;
}

// Stores the scenario's events with no subscriber attached (64 per request,
// 8 in flight, unlimited rate).
absl::Status Preload(const Run& run, const ServerProcess& server) {
  int64_t start_ns = 0;
  return Publish(run.mode, server.address(), Shape(1, 64), run.scenario.count,
                 &start_ns);
}

// dipwired and Redis: events stored, then one subscriber from the start of
// the log. The bare server stores nothing: its row is live fan-out to one
// subscriber, the target's yardstick.
absl::StatusOr<Figures> RunCatchUp(const Run& run) {
  if (run.mode == Mode::kBare) {
    absl::StatusOr<Figures> live = RunLive(run, 1, false);
    if (live.ok()) (*live)[kEventsPerS] = NoFigures()[kEventsPerS];
    return live;
  }
  const Scenario& s = run.scenario;
  absl::StatusOr<Running> running = StartFresh(run);
  if (!running.ok()) return running.status();
  ServerProcess& server = *running->server;
  absl::Status preloaded = Preload(run, server);
  if (!preloaded.ok()) return preloaded;
  const ProcessSample before = SampleProcess(server.pid());
  const double tool_before = OwnCpuSeconds();
  const int64_t start_ns = NowNanos();
  Progress progress;
  auto subscribers = Attach(run, server, 1, false, true, &progress);
  if (!subscribers.ok()) return subscribers.status();
  progress.Await(s.count, absl::Seconds(run.options.idle_timeout_s));
  const ProcessSample after = SampleProcess(server.pid());
  const double tool_cpu = OwnCpuSeconds() - tool_before;
  Deliveries got = Collect(&*subscribers, 1, s.count);
  absl::Status stopped = StopServer(server);
  if (!stopped.ok()) return stopped;
  Figures f = NoFigures();
  f[kDeliveriesPerS] =
      static_cast<double>(got.unique) /
      (static_cast<double>(std::max(got.last_ns, start_ns + 1) - start_ns) /
       1e9);
  f[kDeliveriesPerRead] = DeliveriesPerRead(got);
  f[kLost] = static_cast<double>(got.lost);
  FillCpu(before, after, tool_cpu, static_cast<double>(got.unique), &f);
  return f;
}

// Subscribers attached and idle: the server's memory per subscriber.
absl::StatusOr<Figures> RunIdle(const Run& run) {
  absl::StatusOr<Running> running = StartFresh(run);
  if (!running.ok()) return running.status();
  ServerProcess& server = *running->server;
  const ProcessSample before = SampleProcess(server.pid());
  Progress progress;
  const int n = run.scenario.subscribers;
  auto subscribers = Attach(run, server, n, false, false, &progress);
  if (!subscribers.ok()) return subscribers.status();
  const ProcessSample after = SampleProcess(server.pid());
  Collect(&*subscribers, 0, 0);
  absl::Status stopped = StopServer(server);
  if (!stopped.ok()) return stopped;
  Figures f = NoFigures();
  f[kKibPerSubscriber] =
      static_cast<double>(after.rss_kib - before.rss_kib) / std::max(n, 1);
  f[kServerPeakRssMib] = static_cast<double>(after.hwm_kib) / 1024;
  return f;
}

// Live with and without one stalled subscriber, same round and mode.
absl::StatusOr<Figures> RunStalled(const Run& run) {
  absl::StatusOr<Figures> with = RunLive(run, run.scenario.subscribers, true);
  if (!with.ok()) return with.status();
  absl::StatusOr<Figures> without =
      RunLive(run, run.scenario.subscribers, false);
  if (!without.ok()) return without.status();
  (*with)[kRssGrowthNoStallMib] = (*without)[kRssGrowthMib];
  (*with)[kP99VsNoStall] = (*with)[kP99Ms] / std::max((*without)[kP99Ms], 1e-9);
  return with;
}

// Events stored, the server stopped and started on the same data: the time
// from the start until it serves (dipwired and the bare server: "listening
// on" and a Subscribe answered; Redis: PING answered, not LOADING).
absl::StatusOr<Figures> RunRestart(const Run& run) {
  absl::StatusOr<Running> running = StartFresh(run);
  if (!running.ok()) return running.status();
  absl::Status preloaded = Preload(run, *running->server);
  if (!preloaded.ok()) return preloaded;
  absl::Status stopped = StopServer(*running->server);
  if (!stopped.ok()) return stopped;
  const int64_t start_ns = NowNanos();
  absl::Status restarted = StartServer(run, &*running);
  if (!restarted.ok()) return restarted;
  ServerProcess& server = *running->server;
  Progress progress;
  auto subscribers = Attach(run, server, 1, false, false, &progress);
  if (!subscribers.ok()) return subscribers.status();
  const int64_t serving_ns = NowNanos();
  const ProcessSample after = SampleProcess(server.pid());
  Collect(&*subscribers, 0, 0);
  stopped = StopServer(server);
  if (!stopped.ok()) return stopped;
  Figures f = NoFigures();
  f[kServingS] = static_cast<double>(serving_ns - start_ns) / 1e9;
  f[kServerPeakRssMib] = static_cast<double>(after.hwm_kib) / 1024;
  return f;
}

absl::StatusOr<Figures> RunOnce(const Run& run) {
  switch (run.scenario.kind) {
    case Kind::kLive:
      return RunLive(run, run.scenario.subscribers, false);
    case Kind::kCatchUp:
      return RunCatchUp(run);
    case Kind::kIdle:
      return RunIdle(run);
    case Kind::kStalled:
      return RunStalled(run);
    case Kind::kRestart:
      return RunRestart(run);
  }
  return absl::InternalError("unknown scenario kind");
}

// --- Output ----------------------------------------------------------------

std::string Fixed(double value, int decimals) {
  std::array<char, 32> buf{};
  std::snprintf(buf.data(), buf.size(), "%.*f", decimals, value);
  return buf.data();
}

// "median (min-max)" of the values that are numbers; "-" when none.
std::string Spread(std::vector<double> values, int decimals) {
  values.erase(std::remove_if(values.begin(), values.end(),
                              [](double v) { return std::isnan(v); }),
               values.end());
  if (values.empty()) return "-";
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  const double median =
      n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  if (n == 1) return Fixed(median, decimals);
  return absl::StrCat(Fixed(median, decimals), " (",
                      Fixed(values.front(), decimals), "-",
                      Fixed(values.back(), decimals), ")");
}

// Per round ratios of mode `a` to mode `b`, then their spread.
std::string RatioSpread(const std::vector<Figures>& a,
                        const std::vector<Figures>& b, int metric) {
  std::vector<double> ratios;
  for (size_t r = 0; r < std::min(a.size(), b.size()); ++r) {
    const auto m = static_cast<size_t>(metric);
    ratios.push_back(b[r][m] == 0 ? std::numeric_limits<double>::quiet_NaN()
                                  : a[r][m] / b[r][m]);
  }
  return Spread(std::move(ratios), 2);
}

void PrintTable(const Scenario& scenario,
                const std::array<std::vector<Figures>, kModes>& results,
                absl::Duration took) {
  std::printf("\n== %s: %s (took %s)\n", scenario.name.c_str(),
              Describe(scenario).c_str(), absl::FormatDuration(took).c_str());
  std::printf("%-26s %-26s %-26s %-26s %-20s %-20s\n", "figure", "dipwire",
              "bare", "redis", "dipwire/bare", "dipwire/redis");
  const auto& dipwire = results[static_cast<size_t>(Mode::kDipwire)];
  const auto& bare = results[static_cast<size_t>(Mode::kBare)];
  const auto& redis = results[static_cast<size_t>(Mode::kRedis)];
  for (int m = 0; m < kMetricCount; ++m) {
    std::array<std::string, kModes> cells;
    bool any = false;
    for (int mode = 0; mode < kModes; ++mode) {
      std::vector<double> values;
      for (const Figures& f : results[static_cast<size_t>(mode)]) {
        values.push_back(f[static_cast<size_t>(m)]);
      }
      cells[static_cast<size_t>(mode)] =
          Spread(values, kMetrics[static_cast<size_t>(m)].decimals);
      any = any || cells[static_cast<size_t>(mode)] != "-";
    }
    if (!any) continue;
    std::printf("%-26s %-26s %-26s %-26s %-20s %-20s\n",
                kMetrics[static_cast<size_t>(m)].name, cells[0].c_str(),
                cells[1].c_str(), cells[2].c_str(),
                m == kLost ? "-" : RatioSpread(dipwire, bare, m).c_str(),
                m == kLost ? "-" : RatioSpread(dipwire, redis, m).c_str());
  }
  std::fflush(stdout);
}

void PrintMachine(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  const std::string cpuinfo = ReadFile("/proc/cpuinfo");
  std::string model = "unknown";
  for (absl::string_view line : absl::StrSplit(cpuinfo, '\n')) {
    if (absl::StartsWith(line, "model name")) {
      model = std::string(line.substr(line.find(':') + 2));
      break;
    }
  }
  std::string load = ReadFile("/proc/loadavg");
  if (!load.empty() && load.back() == '\n') load.pop_back();
  const size_t event_bytes =
      BenchEvent(Lane{0, 0, 1}, 99'999, NowNanos()).ByteSizeLong();
  std::printf(
      "command: %s\nmachine: %u cpus (%s), load average %s\n"
      "an event: %zu bytes serialized (an XADD's payload)\n",
      absl::StrJoin(args, " ").c_str(), std::thread::hardware_concurrency(),
      model.c_str(), load.c_str(), event_bytes);
}

// 1,000 subscribers each on its own connection need as many descriptors
// (in this process and in the server, which inherits the limit).
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  std::printf("open files limit: %llu\n",
              static_cast<unsigned long long>(limit.rlim_cur));
}

int Main(int argc, char** argv) {
  Options options;
  const std::string error = Parse(argc, argv, &options);
  absl::StatusOr<std::vector<Scenario>> scenarios =
      error.empty() ? Select(options) : absl::InvalidArgumentError(error);
  if (!scenarios.ok()) {
    std::fprintf(stderr,
                 "dipwire-bench: %s\nusage: dipwire-bench [--scenario NAME|all]"
                 "... [--rounds N] [--modes dipwire,bare,redis] [--count N] "
                 "[--publishers N] [--events-per-request N] [--in-flight N] "
                 "[--unary] [--subscribers N] [--rate EVENTS/S, 0 = "
                 "unlimited] [--filter F] [--dipwired PATH] [--bare-server "
                 "PATH] [--redis-server PATH] [--tmpdir DIR] [--idle-timeout "
                 "S]\n",
                 std::string(scenarios.status().message()).c_str());
    return 2;
  }
  // hiredis sends without MSG_NOSIGNAL: a write to a connection a Redis
  // server has closed would kill the tool with SIGPIPE, silently, instead
  // of failing the run with the write's error.
  std::signal(SIGPIPE, SIG_IGN);
  // Line-buffered also into a file or a pipe: a run killed part way keeps
  // the tables of the scenarios it finished.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  PrintMachine(argc, argv);
  RaiseFileLimit();
  const absl::Time started = absl::Now();
  bool lost_any = false;
  for (const Scenario& scenario : *scenarios) {
    const absl::Time scenario_started = absl::Now();
    std::array<std::vector<Figures>, kModes> results;
    const size_t n = options.modes.size();
    for (int round = 0; round < options.rounds; ++round) {
      for (size_t i = 0; i < n; ++i) {
        // The order rotates, so no mode always runs first or last.
        const Mode mode = options.modes[(i + static_cast<size_t>(round)) % n];
        absl::StatusOr<Figures> figures = RunOnce({options, scenario, mode});
        if (!figures.ok()) {
          std::fprintf(stderr, "dipwire-bench: %s, %s, round %d: %s\n",
                       scenario.name.c_str(), ModeName(mode), round + 1,
                       figures.status().ToString().c_str());
          return 1;
        }
        if ((*figures)[kLost] > 0) lost_any = true;
        results[static_cast<size_t>(mode)].push_back(*figures);
      }
    }
    PrintTable(scenario, results,
               absl::Trunc(absl::Now() - scenario_started, absl::Seconds(1)));
  }
  std::printf(
      "\ntotal %s; lost alerts: %s\n",
      absl::FormatDuration(absl::Trunc(absl::Now() - started, absl::Seconds(1)))
          .c_str(),
      lost_any ? "SOME (see the lost rows)" : "0");
  return lost_any ? 1 : 0;
}

}  // namespace
}  // namespace dipwire::bench

int main(int argc, char** argv) { return dipwire::bench::Main(argc, argv); }

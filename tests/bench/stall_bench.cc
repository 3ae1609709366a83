// stall_bench: shows that a subscriber which stops reading costs the server
// no more memory than an idle one and does not move the live latency of the
// other subscribers, and that it catches up from the store when it reads
// again (DESIGN.md, "the log is the buffer").
//
//   stall_bench [--dipwired PATH] [--events 1000000] [--rate 10000]
//               [--batch 64] [--window 8] [--subscribers 4] [--rounds 3]
//               [--variants idle,A,B] [--sample-ms 50] [--timeout 60]
//               [--tmpdir /tmp]
//
// Each run of a variant starts its own dipwired on 127.0.0.1 with a fresh
// data directory (removed afterwards), so it knows the server's pid and
// reads its memory from /proc/<pid>/status. Variants, run interleaved in
// every round (the order rotates from round to round):
//   idle  K live subscribers + one subscriber whose filter matches nothing
//   A     K live subscribers (the baseline)
//   B     K live subscribers + one subscriber that opens Subscribe (LATEST)
//         and then reads nothing while the publisher runs; afterwards it
//         reads, and the tool times its catch-up from the store.
// One publisher sends `events` events over PublishStream, `batch` per
// request, at most `window` requests in flight, paced to `rate` events/s
// (0: as fast as the server takes them). Every event is a status change of
// one peace process (IN_PROGRESS and STALLED in turn, one fixed reported_at),
// so each yields exactly one alert and the engine's state stays constant:
// what grows in the server is fan-out, not rule state. An event's summary
// carries its send time (steady clock, same process), so every live
// subscriber measures publish-to-delivery latency of every alert.
//
// Prints each run's figures, then medians (min-max) per variant and the
// ratios B/A and B/idle per round with their median. Every wait is bounded:
// when nothing progresses for --timeout seconds the tool kills the server
// and gives up with a message.

#include <fcntl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_support.h"
#include "bench/servers.h"
#include "client/client.h"

namespace {

using dipwire::bench::Mode;
using dipwire::bench::NowNanos;
using dipwire::bench::PercentileMs;
using dipwire::bench::Programs;
using dipwire::bench::ReadFile;
using dipwire::bench::ServerProcess;
using dipwire::bench::TempDir;
using dipwire::bench::Window;
using dipwire::client::AlertStream;
using dipwire::client::Client;

constexpr int kVariants = 3;
enum class Variant { kIdle = 0, kBase = 1, kStalled = 2 };
constexpr std::array<const char*, kVariants> kVariantNames = {"idle", "A", "B"};

const char* Name(Variant variant) {
  return kVariantNames[static_cast<size_t>(variant)];
}

struct Options {
  std::string dipwired = DIPWIRE_DIPWIRED_PATH;
  int64_t events = 1'000'000;
  int64_t rate = 10'000;
  int batch = 64;
  int window = 8;
  int subscribers = 4;
  int rounds = 3;
  std::vector<Variant> variants = {Variant::kIdle, Variant::kBase,
                                   Variant::kStalled};
  int sample_ms = 50;
  int timeout_s = 60;
  std::string tmpdir = "/tmp";
};

bool ParseVariants(const char* text, std::vector<Variant>* out) {
  out->clear();
  for (absl::string_view name : absl::StrSplit(text, ',')) {
    bool known = false;
    for (int v = 0; v < kVariants; ++v) {
      if (name == kVariantNames[static_cast<size_t>(v)]) {
        out->push_back(static_cast<Variant>(v));
        known = true;
      }
    }
    if (!known) return false;
  }
  return !out->empty();
}

template <typename Int>
bool ParseCount(const char* text, Int* out, Int min) {
  return absl::SimpleAtoi(text, out) && *out >= min;
}

bool ParseFlag(const std::string& flag, const char* value, Options* options) {
  if (flag == "--dipwired") {
    options->dipwired = value;
    return true;
  }
  if (flag == "--tmpdir") {
    options->tmpdir = value;
    return true;
  }
  if (flag == "--variants") return ParseVariants(value, &options->variants);
  if (flag == "--events")
    return ParseCount<int64_t>(value, &options->events, 1);
  if (flag == "--rate") return ParseCount<int64_t>(value, &options->rate, 0);
  if (flag == "--batch") return ParseCount(value, &options->batch, 2);
  if (flag == "--window") return ParseCount(value, &options->window, 1);
  if (flag == "--subscribers") {
    return ParseCount(value, &options->subscribers, 1);
  }
  if (flag == "--rounds") return ParseCount(value, &options->rounds, 1);
  if (flag == "--sample-ms") return ParseCount(value, &options->sample_ms, 1);
  if (flag == "--timeout") return ParseCount(value, &options->timeout_s, 1);
  return false;
}

bool Parse(int argc, char** argv, Options* options) {
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!ParseFlag(argv[i], argv[i + 1], options)) return false;
  }
  // Batches alternate statuses: an even size keeps every batch starting
  // from the same status, whatever order batches commit in.
  return argc % 2 == 1 && options->batch % 2 == 0;
}

double Mib(int64_t kib) { return static_cast<double>(kib) / 1024.0; }

// --- The machine and the server's memory ----------------------------------

// The value of the first "key<sep> value" line of `text`, trimmed.
std::string Field(const std::string& text, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, key)) continue;
    line = absl::StripLeadingAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&line, ":")) continue;
    return std::string(absl::StripAsciiWhitespace(line));
  }
  return "";
}

// A "1234 kB" field of /proc/<pid>/status or /proc/meminfo, in KiB; 0 when
// missing.
int64_t KibField(const std::string& text, absl::string_view key) {
  std::string value = Field(text, key);
  absl::string_view number = value;
  absl::ConsumeSuffix(&number, " kB");
  int64_t kib = 0;
  return absl::SimpleAtoi(number, &kib) ? kib : 0;
}

struct Memory {
  int64_t rss_kib = 0;   // VmRSS
  int64_t hwm_kib = 0;   // VmHWM: the kernel's peak of VmRSS
  int64_t anon_kib = 0;  // RssAnon: heap and stacks, no file pages
};

Memory ReadMemory(pid_t pid) {
  const std::string status = ReadFile(absl::StrCat("/proc/", pid, "/status"));
  return Memory{KibField(status, "VmRSS"), KibField(status, "VmHWM"),
                KibField(status, "RssAnon")};
}

void PrintMachine(const Options& options) {
  const std::string cpu = Field(ReadFile("/proc/cpuinfo"), "model name");
  const int64_t mem = KibField(ReadFile("/proc/meminfo"), "MemTotal");
  const bool own_build = options.dipwired == DIPWIRE_DIPWIRED_PATH;
  std::printf(
      "machine: %u cpus (%s), %.1f GiB memory\n"
      "dipwired: %s (build type: %s)\n"
      "events %lld, batch %d, window %d, rate %lld events/s%s, %d live "
      "subscribers, %d rounds\n",
      std::thread::hardware_concurrency(), cpu.c_str(), Mib(mem) / 1024.0,
      options.dipwired.c_str(),
      own_build ? DIPWIRE_BUILD_TYPE : "unknown (not this build's)",
      static_cast<long long>(options.events), options.batch, options.window,
      static_cast<long long>(options.rate),
      options.rate == 0 ? " (unlimited)" : "", options.subscribers,
      options.rounds);
}

// Samples the server's VmRSS every `interval` on its own thread and keeps
// the peaks. Thread-safe.
class Sampler {
 public:
  Sampler(pid_t pid, absl::Duration interval)
      : pid_(pid), interval_(interval), thread_([this] { Loop(); }) {}
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;
  ~Sampler() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }

  // The peaks since the last Take (or since the start), and starts anew.
  // hwm_kib is the kernel's VmHWM now.
  Memory Take() {
    const Memory now = ReadMemory(pid_);
    absl::MutexLock lock(&mu_);
    Memory peak = peak_;
    peak.rss_kib = std::max(peak.rss_kib, now.rss_kib);
    peak.anon_kib = std::max(peak.anon_kib, now.anon_kib);
    peak.hwm_kib = now.hwm_kib;
    peak_ = Memory{};
    return peak;
  }

 private:
  void Loop() {
    absl::MutexLock lock(&mu_);
    while (!mu_.AwaitWithTimeout(absl::Condition(&stop_), interval_)) {
      const Memory now = ReadMemory(pid_);
      peak_.rss_kib = std::max(peak_.rss_kib, now.rss_kib);
      peak_.anon_kib = std::max(peak_.anon_kib, now.anon_kib);
    }
  }

  const pid_t pid_;
  const absl::Duration interval_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  Memory peak_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // last: starts after the fields it uses
};

// Bounds every wait of a run: when nothing progresses for `timeout` it
// kills the server, so that blocked gRPC calls return, and records why.
// Thread-safe.
class Watchdog {
 public:
  Watchdog(const ServerProcess* server, absl::Duration timeout)
      : server_(server), timeout_(timeout), thread_([this] { Loop(); }) {}
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }

  void Touch() { last_progress_.store(NowNanos(), std::memory_order_relaxed); }
  bool fired() const { return fired_.load(); }
  // Records a failure seen by a worker and stops the run.
  void Fail(const std::string& why) {
    {
      absl::MutexLock lock(&mu_);
      if (why_.empty()) why_ = why;
    }
    fired_.store(true);
    server_->Kill();
  }
  std::string why() const {
    absl::MutexLock lock(&mu_);
    return why_;
  }

 private:
  void Loop() {
    absl::MutexLock lock(&mu_);
    while (!mu_.AwaitWithTimeout(absl::Condition(&stop_), absl::Seconds(1))) {
      const absl::Duration idle = absl::Nanoseconds(
          NowNanos() - last_progress_.load(std::memory_order_relaxed));
      if (!fired_.load() && idle > timeout_) {
        why_ = absl::StrCat("no progress for ", absl::FormatDuration(timeout_),
                            ": the server stopped answering (killed it)");
        fired_.store(true);
        server_->Kill();
      }
    }
  }

  const ServerProcess* const server_;
  const absl::Duration timeout_;
  std::atomic<int64_t> last_progress_{NowNanos()};
  std::atomic<bool> fired_{false};
  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::string why_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // last: starts after the fields it uses
};

// --- Events and what subscribers see ---------------------------------------

constexpr absl::string_view kEventPrefix = "sb-";

dipwire::v1::DiplomaticEvent TemplateEvent() {
  dipwire::v1::DiplomaticEvent event;
  event.mutable_occurred_at()->set_seconds(1'717'200'000);
  // One fixed report time: no event is ever stale against another.
  event.mutable_reported_at()->set_seconds(1'717'200'000);
  event.mutable_source()->set_outlet("stall_bench");
  auto* talk = event.mutable_peace_talk();
  talk->set_process_id("stall-bench");
  talk->set_title("Stall bench talks");
  talk->add_parties("UKR");
  talk->add_parties("RUS");
  talk->set_venue_country("CHE");
  return event;
}

// Event `first`.. of one request; each carries `sent_ns` in its summary.
dipwire::v1::PublishRequest Batch(const dipwire::v1::DiplomaticEvent& model,
                                  int64_t first, int size, int64_t sent_ns) {
  dipwire::v1::PublishRequest request;
  const std::string sent = absl::StrCat(sent_ns);
  for (int64_t i = first; i < first + size; ++i) {
    dipwire::v1::DiplomaticEvent* event = request.add_events();
    *event = model;
    event->set_event_id(absl::StrCat(kEventPrefix, i));
    event->set_summary(sent);
    // Alternating statuses: every event changes the process's status.
    event->mutable_peace_talk()->set_status(
        i % 2 == 0 ? dipwire::v1::PeaceTalkUpdate::IN_PROGRESS
                   : dipwire::v1::PeaceTalkUpdate::STALLED);
  }
  return request;
}

// What one subscriber received: each alert's event index in arrival order
// and, for live subscribers, each alert's latency.
struct Received {
  explicit Received(int64_t events) : seen(static_cast<size_t>(events), 0) {}
  std::vector<uint8_t> seen;
  std::vector<uint32_t> order;
  std::vector<int64_t> latency_ns;
  int64_t unique = 0;
  int64_t duplicates = 0;
  int64_t foreign = 0;  // not an alert of this run's events

  // Records one alert; false when it is not one of ours.
  bool Add(const dipwire::v1::Alert& alert, int64_t now_ns, bool timed) {
    absl::string_view id = alert.event().event_id();
    int64_t index = 0;
    int64_t sent = 0;
    if (!absl::ConsumePrefix(&id, kEventPrefix) ||
        !absl::SimpleAtoi(id, &index) || index < 0 ||
        index >= static_cast<int64_t>(seen.size()) ||
        !absl::SimpleAtoi(alert.event().summary(), &sent)) {
      ++foreign;
      return false;
    }
    uint8_t& mark = seen[static_cast<size_t>(index)];
    if (mark != 0) {
      ++duplicates;
    } else {
      mark = 1;
      ++unique;
    }
    order.push_back(static_cast<uint32_t>(index));
    if (timed) latency_ns.push_back(now_ns - sent);
    return true;
  }
};

dipwire::v1::SubscribeRequest SubscribeRequest(const std::string& filter) {
  dipwire::v1::SubscribeRequest request;
  request.set_filter(filter);
  request.set_position(dipwire::v1::SubscribeRequest::LATEST);
  // The first heartbeat (sent at once) tells that the stream is attached.
  request.mutable_heartbeat_interval()->set_seconds(1);
  return request;
}

// Waits for the stream's first response (a heartbeat on an empty log).
absl::Status AwaitAttached(AlertStream& stream, absl::Duration timeout) {
  dipwire::v1::SubscribeResponse response;
  absl::StatusOr<bool> got = stream.Next(&response, timeout);
  if (!got.ok()) return got.status();
  if (!*got) return absl::UnavailableError("the stream ended at once");
  if (response.alerts_size() > 0) {
    return absl::InternalError("an alert came before anything was published");
  }
  return absl::OkStatus();
}

// Reads `stream` until it has delivered `events` alerts of ours (or the
// watchdog fires). `timed` records latencies. Returns the time spent.
absl::Duration Drain(AlertStream& stream, int64_t events, bool timed,
                     Watchdog& watchdog, Received* received) {
  const absl::Time start = absl::Now();
  dipwire::v1::SubscribeResponse response;
  while (received->unique + received->duplicates < events &&
         !watchdog.fired()) {
    absl::StatusOr<bool> got = stream.Next(&response, absl::Seconds(1));
    if (!got.ok() && got.status().code() == absl::StatusCode::kDeadlineExceeded)
      continue;
    if (!got.ok() || !*got) {
      watchdog.Fail(absl::StrCat(
          "a subscriber's stream ended: ",
          got.ok() ? "OK before every alert" : got.status().ToString()));
      break;
    }
    const int64_t now = NowNanos();
    for (const dipwire::v1::Alert& alert : response.alerts()) {
      received->Add(alert, now, timed);
    }
    if (response.alerts_size() > 0) watchdog.Touch();
  }
  return absl::Now() - start;
}

// --- The publisher ---------------------------------------------------------

struct Published {
  double seconds = 0;
  int64_t accepted = 0;
  int64_t not_one_alert = 0;  // events that did not yield exactly one alert
};

void ReceiveAnswers(dipwire::client::PublishSession& session, int64_t requests,
                    Window& window, Watchdog& watchdog, Published* published) {
  for (int64_t r = 0; r < requests; ++r) {
    dipwire::v1::PublishResponse response;
    absl::StatusOr<bool> got = session.Receive(&response);
    if (!got.ok() || !*got || response.has_error()) {
      watchdog.Fail(absl::StrCat("publish response ", r, ": ",
                                 response.has_error()
                                     ? response.error().message()
                                 : got.ok() ? "the stream ended"
                                            : got.status().ToString()));
      return;
    }
    for (const dipwire::v1::PublishResult& result : response.results()) {
      if (result.outcome() == dipwire::v1::PublishResult::ACCEPTED) {
        ++published->accepted;
      }
      if (result.alert_ids_size() != 1) ++published->not_one_alert;
    }
    window.Release();
    watchdog.Touch();
  }
}

Published Publish(Client& client, const Options& options, Watchdog& watchdog) {
  Published published;
  auto session = client.PublishStream();
  if (!session.ok()) {
    watchdog.Fail(session.status().ToString());
    return published;
  }
  const int64_t requests = (options.events + options.batch - 1) / options.batch;
  Window window(options.window);
  const dipwire::v1::DiplomaticEvent model = TemplateEvent();
  const int64_t start = NowNanos();
  std::thread receiver([&] {
    ReceiveAnswers(**session, requests, window, watchdog, &published);
  });
  for (int64_t r = 0; r < requests && !watchdog.fired(); ++r) {
    if (options.rate > 0) {
      // Paced: request r leaves at start + r * batch / rate.
      const int64_t due =
          start + r * options.batch * 1'000'000'000 / options.rate;
      const int64_t wait = due - NowNanos();
      if (wait > 0) absl::SleepFor(absl::Nanoseconds(wait));
    }
    while (!window.Acquire(absl::Seconds(1))) {
      if (watchdog.fired()) break;
    }
    if (watchdog.fired()) break;
    const int64_t first = r * options.batch;
    const dipwire::v1::PublishRequest request =
        Batch(model, first,
              static_cast<int>(
                  std::min<int64_t>(options.batch, options.events - first)),
              NowNanos());
    if (!(*session)->Send(request).ok()) break;
  }
  receiver.join();
  const absl::Status finished = (*session)->Finish();
  if (!finished.ok() && !watchdog.fired()) {
    watchdog.Fail(absl::StrCat("publish stream: ", finished.ToString()));
  }
  published.seconds = static_cast<double>(NowNanos() - start) / 1e9;
  return published;
}

// --- One run of one variant ------------------------------------------------

struct RunResult {
  Variant variant = Variant::kBase;
  double events_per_s = 0;
  int64_t deliveries = 0;
  int64_t lost = 0;
  int64_t duplicates = 0;
  bool live_in_order = true;  // every live subscriber saw one order
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  Memory start;    // after the server started
  Memory publish;  // peaks while publishing
  // B only: the stalled subscriber's catch-up.
  double catch_up_s = 0;
  int64_t caught_up = 0;
  bool stalled_ok = false;  // all alerts once, in the live order
  Memory catch_up;          // peaks while catching up
};

void Summarize(const std::vector<Received>& live, int64_t events,
               RunResult* result) {
  std::vector<int64_t> latencies;
  for (const Received& r : live) {
    result->deliveries += r.unique + r.duplicates;
    result->lost += events - r.unique;
    result->duplicates += r.duplicates;
    result->live_in_order = result->live_in_order && r.order == live[0].order;
    latencies.insert(latencies.end(), r.latency_ns.begin(), r.latency_ns.end());
  }
  result->p50_ms = PercentileMs(&latencies, 0.50);
  result->p99_ms = PercentileMs(&latencies, 0.99);
  result->max_ms = PercentileMs(&latencies, 1.0);
}

// The streams of one run, each on its own Client.
struct Subscribers {
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<std::unique_ptr<AlertStream>> live;
  std::unique_ptr<AlertStream> extra;  // idle or stalled, if any
  std::vector<uint32_t> live_order;    // the order live subscribers saw
};

absl::StatusOr<std::unique_ptr<AlertStream>> Open(Subscribers* subscribers,
                                                  const std::string& address,
                                                  const std::string& filter) {
  dipwire::client::ClientOptions client_options;
  client_options.server = address;
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect(client_options);
  if (!client.ok()) return client.status();
  subscribers->clients.push_back(*std::move(client));
  return subscribers->clients.back()->Subscribe(SubscribeRequest(filter));
}

absl::Status OpenAll(const Options& options, Variant variant,
                     const std::string& address, Subscribers* subscribers) {
  for (int s = 0; s < options.subscribers; ++s) {
    absl::StatusOr<std::unique_ptr<AlertStream>> stream =
        Open(subscribers, address, "");
    if (!stream.ok()) return stream.status();
    subscribers->live.push_back(*std::move(stream));
  }
  if (variant != Variant::kBase) {
    // The idle subscriber's filter matches no alert of the run.
    absl::StatusOr<std::unique_ptr<AlertStream>> stream =
        Open(subscribers, address,
             variant == Variant::kIdle ? "outlet = \"nobody\"" : "");
    if (!stream.ok()) return stream.status();
    subscribers->extra = *std::move(stream);
  }
  // Publishing starts only once every stream is attached.
  for (auto& stream : subscribers->live) {
    absl::Status attached = AwaitAttached(*stream, absl::Seconds(30));
    if (!attached.ok()) return attached;
  }
  if (subscribers->extra != nullptr) {
    return AwaitAttached(*subscribers->extra, absl::Seconds(30));
  }
  return absl::OkStatus();
}

// Publishes while the live subscribers read; fills the publish figures.
void PublishPhase(const Options& options, const ServerProcess& server,
                  Subscribers& subscribers, Watchdog& watchdog,
                  RunResult* result) {
  std::vector<Received> live(static_cast<size_t>(options.subscribers),
                             Received(options.events));
  std::vector<std::thread> readers;
  readers.reserve(live.size());
  for (size_t s = 0; s < live.size(); ++s) {
    live[s].order.reserve(static_cast<size_t>(options.events));
    live[s].latency_ns.reserve(static_cast<size_t>(options.events));
    readers.emplace_back([&, s] {
      Drain(*subscribers.live[s], options.events, /*timed=*/true, watchdog,
            &live[s]);
    });
  }
  dipwire::client::ClientOptions client_options;
  client_options.server = server.address();
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect(client_options);
  Published published;
  if (client.ok()) {
    published = Publish(**client, options, watchdog);
  } else {
    watchdog.Fail(client.status().ToString());
  }
  for (std::thread& reader : readers) reader.join();
  if (published.accepted != options.events || published.not_one_alert != 0) {
    watchdog.Fail(absl::StrCat(published.accepted, " of ", options.events,
                               " events accepted; ", published.not_one_alert,
                               " did not yield exactly one alert"));
  }
  result->events_per_s =
      static_cast<double>(options.events) / std::max(published.seconds, 1e-9);
  Summarize(live, options.events, result);
  // Kept for the stalled subscriber's order check.
  subscribers.live.clear();
  subscribers.live_order = std::move(live[0].order);
}

// After the publisher is done, the stalled subscriber reads again: times
// its catch-up and checks that it got every alert once, in log order.
void CatchUpPhase(const Options& options, Subscribers& subscribers,
                  Watchdog& watchdog, RunResult* result) {
  Received stalled(options.events);
  stalled.order.reserve(static_cast<size_t>(options.events));
  watchdog.Touch();
  const absl::Duration took = Drain(*subscribers.extra, options.events,
                                    /*timed=*/false, watchdog, &stalled);
  result->catch_up_s = absl::ToDoubleSeconds(took);
  result->caught_up = stalled.unique;
  result->stalled_ok = stalled.unique == options.events &&
                       stalled.duplicates == 0 && stalled.foreign == 0 &&
                       stalled.order == subscribers.live_order;
}

absl::StatusOr<RunResult> RunVariant(const Options& options, Variant variant) {
  RunResult result;
  result.variant = variant;
  absl::StatusOr<std::unique_ptr<TempDir>> dir =
      TempDir::Create(options.tmpdir);
  if (!dir.ok()) return dir.status();
  absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start(
      Mode::kDipwire, Programs{options.dipwired, "", ""}, (*dir)->path(),
      /*fsync_always=*/false, /*redis_port=*/0, absl::Seconds(30));
  if (!server.ok()) return server.status();
  Sampler sampler((*server)->pid(), absl::Milliseconds(options.sample_ms));
  result.start = sampler.Take();
  std::string failure;
  {
    Watchdog watchdog(server->get(), absl::Seconds(options.timeout_s));
    Subscribers subscribers;
    const absl::Status opened =
        OpenAll(options, variant, (*server)->address(), &subscribers);
    if (!opened.ok()) {
      return absl::UnavailableError(
          absl::StrCat("subscribing: ", opened.ToString()));
    }
    sampler.Take();  // peaks from here on belong to the publish phase
    PublishPhase(options, **server, subscribers, watchdog, &result);
    result.publish = sampler.Take();
    if (variant == Variant::kStalled && !watchdog.fired()) {
      CatchUpPhase(options, subscribers, watchdog, &result);
      result.catch_up = sampler.Take();
    }
    if (watchdog.fired()) failure = watchdog.why();
  }
  const int exit_code = (*server)->Stop(absl::Seconds(20));
  if (!failure.empty()) {
    return absl::InternalError(
        absl::StrCat(failure, "; server log:\n", ReadFile((*server)->log())));
  }
  if (exit_code != 0) {
    return absl::InternalError(
        absl::StrCat("dipwired exited with ", exit_code, " on SIGTERM"));
  }
  return result;
}

// --- Output ---------------------------------------------------------------

void PrintRun(int round, const RunResult& r, int subscribers, int64_t events) {
  std::printf(
      "round %d %-4s: %.0f events/s; %d live x %lld alerts: %lld delivered, "
      "lost %lld, duplicated %lld, one order %s; latency p50 %.2f ms, p99 "
      "%.2f ms, max %.2f ms; server MiB: at start %.1f, VmHWM %.1f, peak "
      "sampled VmRSS %.1f (RssAnon %.1f)\n",
      round, Name(r.variant), r.events_per_s, subscribers,
      static_cast<long long>(events), static_cast<long long>(r.deliveries),
      static_cast<long long>(r.lost), static_cast<long long>(r.duplicates),
      r.live_in_order ? "yes" : "NO", r.p50_ms, r.p99_ms, r.max_ms,
      Mib(r.start.rss_kib), Mib(r.publish.hwm_kib), Mib(r.publish.rss_kib),
      Mib(r.publish.anon_kib));
  if (r.variant == Variant::kStalled) {
    std::printf(
        "           stalled subscriber: caught up %lld alerts in %.2f s "
        "(%.0f alerts/s), each once in log order: %s; during catch-up "
        "VmHWM %.1f, peak sampled VmRSS %.1f (RssAnon %.1f)\n",
        static_cast<long long>(r.caught_up), r.catch_up_s,
        static_cast<double>(r.caught_up) / std::max(r.catch_up_s, 1e-9),
        r.stalled_ok ? "yes" : "NO", Mib(r.catch_up.hwm_kib),
        Mib(r.catch_up.rss_kib), Mib(r.catch_up.anon_kib));
  }
  std::fflush(stdout);
}

// "median (min-max)" of `values`.
std::string Spread(std::vector<double> values, int decimals) {
  if (values.empty()) return "-";
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  const double median =
      n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  const auto fixed = [decimals](double v) {
    std::array<char, 32> buf{};
    std::snprintf(buf.data(), buf.size(), "%.*f", decimals, v);
    return std::string(buf.data());
  };
  return absl::StrCat(fixed(median), " (", fixed(values.front()), "-",
                      fixed(values.back()), ")");
}

template <typename Get>
std::string SpreadOf(const std::vector<RunResult>& runs, int decimals,
                     Get get) {
  std::vector<double> values;
  values.reserve(runs.size());
  for (const RunResult& run : runs) values.push_back(get(run));
  return Spread(std::move(values), decimals);
}

void PrintVariantSummary(const std::vector<RunResult>& runs) {
  if (runs.empty()) return;
  std::printf(
      "%-4s events/s %s | p50 ms %s | p99 ms %s | max ms %s | VmHWM MiB %s | "
      "peak VmRSS MiB %s | peak RssAnon MiB %s\n",
      Name(runs[0].variant),
      SpreadOf(runs, 0, [](const RunResult& r) { return r.events_per_s; })
          .c_str(),
      SpreadOf(runs, 2, [](const RunResult& r) { return r.p50_ms; }).c_str(),
      SpreadOf(runs, 2, [](const RunResult& r) { return r.p99_ms; }).c_str(),
      SpreadOf(runs, 1, [](const RunResult& r) { return r.max_ms; }).c_str(),
      SpreadOf(runs, 1,
               [](const RunResult& r) { return Mib(r.publish.hwm_kib); })
          .c_str(),
      SpreadOf(runs, 1,
               [](const RunResult& r) { return Mib(r.publish.rss_kib); })
          .c_str(),
      SpreadOf(runs, 1, [](const RunResult& r) {
        return Mib(r.publish.anon_kib);
      }).c_str());
  if (runs[0].variant != Variant::kStalled) return;
  std::printf("B    catch-up s %s | alerts/s %s | catch-up peak VmRSS MiB %s\n",
              SpreadOf(runs, 2, [](const RunResult& r) { return r.catch_up_s; })
                  .c_str(),
              SpreadOf(runs, 0,
                       [](const RunResult& r) {
                         return static_cast<double>(r.caught_up) /
                                std::max(r.catch_up_s, 1e-9);
                       })
                  .c_str(),
              SpreadOf(runs, 1, [](const RunResult& r) {
                return Mib(r.catch_up.rss_kib);
              }).c_str());
}

// Per round ratios of B to another variant (same round, same machine
// state), then their median.
void PrintRatios(const std::vector<RunResult>& b,
                 const std::vector<RunResult>& base, const char* base_name) {
  if (b.empty() || b.size() != base.size()) return;
  std::vector<double> hwm;
  std::vector<double> rss;
  std::vector<double> p99;
  std::string rounds;
  for (size_t i = 0; i < b.size(); ++i) {
    hwm.push_back(
        static_cast<double>(b[i].publish.hwm_kib) /
        static_cast<double>(std::max<int64_t>(base[i].publish.hwm_kib, 1)));
    rss.push_back(
        static_cast<double>(b[i].publish.rss_kib) /
        static_cast<double>(std::max<int64_t>(base[i].publish.rss_kib, 1)));
    p99.push_back(b[i].p99_ms / std::max(base[i].p99_ms, 1e-9));
    absl::StrAppend(&rounds, " round ", i + 1, ": VmHWM ",
                    absl::SixDigits(hwm.back()), ", p99 ",
                    absl::SixDigits(p99.back()), ";");
  }
  std::printf(
      "B/%s:%s\nB/%s median (min-max): VmHWM %s, peak VmRSS %s, p99 %s\n",
      base_name, rounds.c_str(), base_name, Spread(hwm, 3).c_str(),
      Spread(rss, 3).c_str(), Spread(p99, 2).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!Parse(argc, argv, &options)) {
    std::fprintf(
        stderr,
        "usage: stall_bench [--dipwired PATH] [--events N] [--rate EVENTS/S, "
        "0 = unlimited] [--batch EVEN N] [--window N] [--subscribers N] "
        "[--rounds N] [--variants idle,A,B] [--sample-ms N] [--timeout S] "
        "[--tmpdir DIR]\n");
    return 2;
  }
  PrintMachine(options);
  const absl::Time started = absl::Now();
  std::array<std::vector<RunResult>, kVariants> results;
  const size_t count = options.variants.size();
  for (int round = 1; round <= options.rounds; ++round) {
    for (size_t i = 0; i < count; ++i) {
      // The order rotates from round to round, so no variant always runs
      // first (on a cold disk cache) or last.
      const Variant variant =
          options.variants[(i + static_cast<size_t>(round - 1)) % count];
      absl::StatusOr<RunResult> run = RunVariant(options, variant);
      if (!run.ok()) {
        std::fprintf(stderr, "stall_bench: round %d, variant %s: %s\n", round,
                     Name(variant), run.status().ToString().c_str());
        return 1;
      }
      PrintRun(round, *run, options.subscribers, options.events);
      results[static_cast<size_t>(variant)].push_back(*run);
    }
  }
  std::printf("\nmedians (min-max) over %d rounds:\n", options.rounds);
  for (const auto& runs : results) PrintVariantSummary(runs);
  const auto& b = results[static_cast<size_t>(Variant::kStalled)];
  PrintRatios(b, results[static_cast<size_t>(Variant::kBase)], "A");
  PrintRatios(b, results[static_cast<size_t>(Variant::kIdle)], "idle");
  std::printf(
      "total %s\n",
      absl::FormatDuration(absl::Trunc(absl::Now() - started, absl::Seconds(1)))
          .c_str());
  return 0;
}

// ingest_bench: drives a running dipwired with PublishStream ingest and
// prints the rate it sustained. Used to show group commit at work: with one
// request in flight every request waits for its own fsync; with many in
// flight (several streams, a window per stream) requests share commits.
//
//   ingest_bench --server 127.0.0.1:50051 --streams 4 --window 16
//                --requests 500 --events 1 [--runs 3]
//
// Every event_id carries a random run prefix, so runs never collide.
// Prints one line per run and the median.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/client.h"

namespace {

struct Options {
  std::string server = "127.0.0.1:50051";
  int streams = 1;
  int window = 1;
  int requests = 200;
  int events = 1;
  int runs = 3;
};

bool ParseInt(const char* text, int* out) {
  return absl::SimpleAtoi(text, out) && *out > 0;
}

bool Parse(int argc, char** argv, Options* options) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--server") {
      options->server = value;
    } else if (flag == "--streams") {
      if (!ParseInt(value, &options->streams)) return false;
    } else if (flag == "--window") {
      if (!ParseInt(value, &options->window)) return false;
    } else if (flag == "--requests") {
      if (!ParseInt(value, &options->requests)) return false;
    } else if (flag == "--events") {
      if (!ParseInt(value, &options->events)) return false;
    } else if (flag == "--runs") {
      if (!ParseInt(value, &options->runs)) return false;
    } else {
      return false;
    }
  }
  return argc % 2 == 1;
}

dipwire::v1::DiplomaticEvent Event(const std::string& id) {
  dipwire::v1::DiplomaticEvent event;
  event.set_event_id(id);
  event.mutable_occurred_at()->set_seconds(1'717'200'000);
  event.mutable_source()->set_outlet("bench");
  auto* talk = event.mutable_peace_talk();
  talk->set_process_id(id);  // a new process: one alert per event
  talk->set_status(dipwire::v1::PeaceTalkUpdate::IN_PROGRESS);
  talk->add_parties("UKR");
  return event;
}

// One stream: keeps up to `window` requests in flight. Returns false on an
// error (printed).
bool RunStream(dipwire::client::Client& client, const Options& options,
               const std::string& prefix) {
  auto session = client.PublishStream();
  if (!session.ok()) return false;
  absl::Mutex mu;
  int in_flight = 0;
  bool failed = false;
  struct Window {
    const int* in_flight;
    const bool* failed;
    int limit;
  } window{&in_flight, &failed, options.window};
  std::thread receiver([&] {
    for (int i = 0; i < options.requests; ++i) {
      dipwire::v1::PublishResponse response;
      auto got = (*session)->Receive(&response);
      absl::MutexLock lock(&mu);
      --in_flight;
      if (!got.ok() || !*got || response.has_error()) {
        std::fprintf(stderr, "response %d: %s\n", i,
                     response.has_error() ? response.error().message().c_str()
                                          : "stream ended");
        failed = true;
        return;
      }
    }
  });
  for (int i = 0; i < options.requests; ++i) {
    {
      absl::MutexLock lock(&mu);
      mu.Await(absl::Condition(
          +[](Window* w) { return *w->in_flight < w->limit || *w->failed; },
          &window));
      if (failed) break;
      ++in_flight;
    }
    dipwire::v1::PublishRequest request;
    for (int e = 0; e < options.events; ++e) {
      *request.add_events() = Event(absl::StrCat(prefix, "-", i, "-", e));
    }
    if (!(*session)->Send(request).ok()) break;
  }
  receiver.join();
  const absl::Status finished = (*session)->Finish();
  if (!finished.ok()) {
    std::fprintf(stderr, "stream: %s\n", finished.ToString().c_str());
  }
  return !failed && finished.ok();
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!Parse(argc, argv, &options)) {
    std::fprintf(stderr,
                 "usage: ingest_bench [--server HOST:PORT] [--streams N] "
                 "[--window N] [--requests N] [--events N] [--runs N]\n");
    return 2;
  }
  dipwire::client::ClientOptions client_options;
  client_options.server = options.server;
  std::mt19937_64 random(std::random_device{}());
  std::vector<double> rates;
  for (int run = 0; run < options.runs; ++run) {
    // A channel per stream: streams then do not share one connection.
    std::vector<std::unique_ptr<dipwire::client::Client>> clients;
    for (int s = 0; s < options.streams; ++s) {
      auto client = dipwire::client::Client::Connect(client_options);
      if (!client.ok()) return 1;
      clients.push_back(*std::move(client));
    }
    const std::string prefix = absl::StrCat("bench-", random() % 1'000'000'000);
    const absl::Time start = absl::Now();
    std::vector<std::thread> threads;
    threads.reserve(static_cast<size_t>(options.streams));
    std::vector<char> ok(static_cast<size_t>(options.streams), 0);
    for (int s = 0; s < options.streams; ++s) {
      threads.emplace_back([&, s] {
        ok[static_cast<size_t>(s)] =
            RunStream(*clients[static_cast<size_t>(s)], options,
                      absl::StrCat(prefix, "-s", s))
                ? 1
                : 0;
      });
    }
    for (auto& thread : threads) thread.join();
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    if (std::count(ok.begin(), ok.end(), 0) > 0) return 1;
    const double events =
        1.0 * options.streams * options.requests * options.events;
    rates.push_back(events / seconds);
    std::printf("run %d: %.0f events in %.3f s = %.0f events/s\n", run + 1,
                events, seconds, events / seconds);
  }
  std::sort(rates.begin(), rates.end());
  std::printf(
      "median %.0f events/s (min %.0f, max %.0f) over %d runs; streams=%d "
      "window=%d events/request=%d requests/stream=%d\n",
      rates[rates.size() / 2], rates.front(), rates.back(), options.runs,
      options.streams, options.window, options.events, options.requests);
  return 0;
}

#include "bench/bench_support.h"

#include <algorithm>
#include <chrono>
#include <cstddef>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace dipwire::bench {

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<Lane> SplitLanes(int64_t count, int lanes) {
  std::vector<Lane> out;
  out.reserve(static_cast<size_t>(lanes));
  for (int l = 0; l < lanes; ++l) {
    out.push_back(Lane{l, count * l / lanes, count * (l + 1) / lanes});
  }
  return out;
}

v1::DiplomaticEvent BenchEvent(const Lane& lane, int64_t index,
                               int64_t sent_ns) {
  v1::DiplomaticEvent event;
  event.set_event_id(absl::StrCat("b", index));
  event.mutable_occurred_at()->set_seconds(1'717'200'000);
  // One fixed report time: no event is ever stale against another.
  event.mutable_reported_at()->set_seconds(1'717'200'000);
  event.mutable_source()->set_outlet("dipwire-bench");
  event.set_summary(absl::StrCat(sent_ns));
  v1::PeaceTalkUpdate* talk = event.mutable_peace_talk();
  talk->set_process_id(absl::StrCat("bench-", lane.index));
  talk->set_title("Bench talks");
  talk->add_parties("UKR");
  talk->add_parties("RUS");
  talk->set_venue_country("CHE");
  // In turn within the lane: every event changes its process's status.
  talk->set_status((index - lane.begin) % 2 == 0
                       ? v1::PeaceTalkUpdate::IN_PROGRESS
                       : v1::PeaceTalkUpdate::STALLED);
  return event;
}

int Tally::Record(const v1::DiplomaticEvent& event, int64_t now_ns) {
  absl::string_view id = event.event_id();
  int64_t index = 0;
  int64_t sent = 0;
  if (!absl::ConsumePrefix(&id, "b") || !absl::SimpleAtoi(id, &index) ||
      index < 0 || index >= static_cast<int64_t>(seen_.size()) ||
      !absl::SimpleAtoi(event.summary(), &sent)) {
    return 0;
  }
  uint8_t& mark = seen_[static_cast<size_t>(index)];
  if (mark != 0) {
    ++duplicates_;
    return 0;
  }
  mark = 1;
  ++unique_;
  latency_ns_.push_back(now_ns - sent);
  last_ns_ = now_ns;
  return 1;
}

void Progress::Add(int64_t n) {
  absl::MutexLock lock(&mu_);
  count_ += n;
}

int64_t Progress::Await(int64_t target, absl::Duration idle) {
  absl::MutexLock lock(&mu_);
  target_ = target;
  // Wakes once per `idle` at most, not per delivery.
  int64_t seen = count_;
  while (
      !mu_.AwaitWithTimeout(absl::Condition(this, &Progress::Reached), idle)) {
    if (count_ == seen) break;  // nothing arrived for `idle`
    seen = count_;
  }
  return count_;
}

bool Window::Acquire(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  if (!mu_.AwaitWithTimeout(absl::Condition(this, &Window::HasRoom), timeout)) {
    return false;
  }
  ++in_flight_;
  return true;
}

void Window::Release() {
  absl::MutexLock lock(&mu_);
  --in_flight_;
}

void Pace(int64_t start_ns, int64_t request, int per_request, double rate) {
  if (rate <= 0) return;
  const auto due =
      start_ns + static_cast<int64_t>(static_cast<double>(request) *
                                      per_request * 1e9 / rate);
  const int64_t wait = due - NowNanos();
  if (wait > 0) absl::SleepFor(absl::Nanoseconds(wait));
}

double PercentileMs(std::vector<int64_t>* values, double q) {
  if (values->empty()) return 0;
  const auto k =
      static_cast<size_t>(q * static_cast<double>(values->size() - 1));
  std::nth_element(values->begin(),
                   values->begin() + static_cast<std::ptrdiff_t>(k),
                   values->end());
  return static_cast<double>((*values)[k]) / 1e6;
}

}  // namespace dipwire::bench

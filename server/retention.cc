#include "server/retention.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "server/metrics.h"

namespace dipwire::server {
namespace {

// The largest age a SPEC may give, in its unit: about 100 years.
constexpr int64_t kMaxAgeDays = 36500;

absl::Status BadSpec(absl::string_view name, absl::string_view text) {
  return absl::InvalidArgumentError(
      absl::StrCat(name, ": \"", text,
                   "\" is not a count (a whole number of at least 1, e.g. "
                   "1000000) or an age (a whole number of at least 1 and a "
                   "unit d, h, m or s, e.g. 30d, 12h, 90m, 3600s)"));
}

bool AllDigits(absl::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
}

}  // namespace

absl::StatusOr<RetentionSpec> ParseRetentionSpec(absl::string_view text,
                                                 absl::string_view name) {
  RetentionSpec spec;
  if (text.empty()) return spec;
  if (AllDigits(text)) {
    if (!absl::SimpleAtoi(text, &spec.count) || spec.count == 0) {
      return BadSpec(name, text);
    }
    return spec;
  }
  const absl::string_view number = text.substr(0, text.size() - 1);
  int64_t n = 0;
  if (!AllDigits(number) || !absl::SimpleAtoi(number, &n) || n < 1) {
    return BadSpec(name, text);
  }
  absl::Duration unit;
  switch (text.back()) {
    case 'd':
      unit = absl::Hours(24);
      break;
    case 'h':
      unit = absl::Hours(1);
      break;
    case 'm':
      unit = absl::Minutes(1);
      break;
    case 's':
      unit = absl::Seconds(1);
      break;
    default:
      return BadSpec(name, text);
  }
  if (unit * n > absl::Hours(24) * kMaxAgeDays) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": \"", text, "\" is longer than ", kMaxAgeDays, " days"));
  }
  spec.age = unit * n;
  return spec;
}

std::string FormatRetentionSpec(const RetentionSpec& spec) {
  if (spec.count > 0) return absl::StrCat(spec.count);
  if (spec.age > absl::ZeroDuration()) return absl::FormatDuration(spec.age);
  return "all";
}

absl::StatusOr<absl::Duration> ParseRetentionInterval(absl::string_view text,
                                                      absl::string_view name) {
  absl::Duration interval;
  if (!absl::ParseDuration(text, &interval) ||
      interval < absl::Milliseconds(10) || interval > absl::Hours(24)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": \"", text,
                     "\" is not a duration between 10ms and 24h (e.g. 60s, "
                     "500ms, 5m)"));
  }
  return interval;
}

Retention::Retention(const RetentionOptions& options, EventStore* store,
                     AlertHub* hub, PublishPipeline* pipeline, Clock* clock)
    : options_(options),
      store_(store),
      hub_(hub),
      pipeline_(pipeline),
      clock_(clock) {}

std::unique_ptr<Retention> Retention::Start(const RetentionOptions& options,
                                            EventStore* store, AlertHub* hub,
                                            PublishPipeline* pipeline,
                                            Clock* clock) {
  std::unique_ptr<Retention> retention(
      new Retention(options, store, hub, pipeline, clock));
  retention->thread_ = std::thread([r = retention.get()] { r->Loop(); });
  return retention;
}

Retention::~Retention() { Stop(); }

void Retention::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool Retention::stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

void Retention::Loop() {
  while (true) {
    const absl::Status status = RunOnce();
    if (!status.ok()) {
      // Retried at the next pass; nothing is half done (each chunk is a
      // transaction and the marks move with it).
      DIPWIRE_LOG(kError) << "retention pass failed: " << status;
    }
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.interval)) {
      return;
    }
  }
}

absl::Status Retention::RunOnce() {
  absl::MutexLock pass(&pass_mu_);
  const ScopedTimer timer(&GlobalMetrics().retention_seconds);
  DIPWIRE_ASSIGN_OR_RETURN(const LogHead head, store_->Head());
  const absl::Time now = clock_->Now();
  if (options_.alerts.enabled()) {
    DIPWIRE_RETURN_IF_ERROR(TrimAlerts(head, now));
  }
  if (options_.events.enabled()) {
    DIPWIRE_RETURN_IF_ERROR(TrimEvents(head, now));
  }
  return absl::OkStatus();
}

absl::Status Retention::TrimAlerts(const LogHead& head, absl::Time now) {
  const RetentionSpec& spec = options_.alerts;
  uint64_t cut = 0;
  if (spec.count > 0) {
    cut = head.last_alert_position > spec.count
              ? head.last_alert_position - spec.count
              : 0;
  } else {
    DIPWIRE_ASSIGN_OR_RETURN(cut, store_->AlertPositionBefore(now - spec.age));
  }
  if (cut <= head.alerts_trimmed_through) return absl::OkStatus();
  // First the hub: from now on no stream starts among the alerts going.
  hub_->SetTrimmedThrough(cut);
  return TrimInChunks(
      head.alerts_trimmed_through, cut,
      [&] { return store_->TrimAlerts(cut, options_.chunk_rows); },
      &GlobalMetrics().alerts_trimmed);
}

absl::Status Retention::TrimEvents(const LogHead& head, absl::Time now) {
  const RetentionSpec& spec = options_.events;
  uint64_t cut = 0;
  if (spec.count > 0) {
    cut = head.last_sequence > spec.count ? head.last_sequence - spec.count : 0;
  } else {
    DIPWIRE_ASSIGN_OR_RETURN(cut, store_->EventSequenceBefore(now - spec.age));
  }
  if (cut <= head.events_trimmed_through) return absl::OkStatus();
  // Payloads go only up to a snapshot, so that replay can start there.
  DIPWIRE_ASSIGN_OR_RETURN(const std::optional<EngineSnapshot> snapshot,
                           store_->NewestSnapshot());
  uint64_t covered = snapshot.has_value() ? snapshot->sequence : 0;
  if (covered < cut) {
    DIPWIRE_ASSIGN_OR_RETURN(covered, pipeline_->SaveSnapshot());
  }
  const uint64_t through = std::min(cut, covered);
  return TrimInChunks(
      head.events_trimmed_through, through,
      [&] { return store_->TrimEvents(through, options_.chunk_rows); },
      &GlobalMetrics().events_trimmed);
}

absl::Status Retention::TrimInChunks(
    uint64_t mark, uint64_t through,
    const std::function<absl::StatusOr<uint64_t>()>& trim, Counter* trimmed) {
  while (mark < through && !stopping()) {
    DIPWIRE_ASSIGN_OR_RETURN(const uint64_t next, trim());
    if (next <= mark) break;
    trimmed->Increment(next - mark);
    mark = next;
  }
  return absl::OkStatus();
}

}  // namespace dipwire::server

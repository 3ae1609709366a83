#include "server/webhook_sinks.h"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "server/cursor.h"
#include "server/metrics.h"
#include "server/webhook.h"

namespace dipwire::server {
namespace {

// Alerts read from the store per page.
constexpr size_t kPageAlerts = 100;
constexpr size_t kPageBytes = size_t{4} << 20;
// Dead letters redelivered per page.
constexpr size_t kRedeliverPage = 100;
// The longest a sink sleeps without looking at its flags, and the wait
// after a store error.
constexpr absl::Duration kIdlePoll = absl::Milliseconds(250);
constexpr absl::Duration kStoreRetry = absl::Seconds(1);
constexpr double kJitter = 0.2;
constexpr long kMaxConnectTimeoutMs = 10'000;  // NOLINT(google-runtime-int)

absl::once_flag curl_init_once;

void InitCurl() {
  absl::call_once(curl_init_once, [] {
    // Once per process, before any sink thread exists.
    curl_global_init(CURL_GLOBAL_DEFAULT);
  });
}

// libcurl's callbacks.
size_t DiscardBody(char* /*data*/, size_t size, size_t count, void* /*user*/) {
  return size * count;
}
// Returning non-zero aborts the transfer (CURLE_ABORTED_BY_CALLBACK).
int AbortIfStopping(void* stopping, curl_off_t /*dltotal*/,
                    curl_off_t /*dlnow*/, curl_off_t /*ultotal*/,
                    curl_off_t /*ulnow*/) {
  return static_cast<const std::atomic<bool>*>(stopping)->load() ? 1 : 0;
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// POSTs `body` to `url` with `*handle`, a curl handle kept from request to
// request (made here when null). Post leaves it as curl_easy_reset does:
// without options, so that it points at nothing of this call, but with its
// open connections, so that the next request to the same host reuses one
// (HTTP keep-alive, TLS session and all). libcurl sends a request
// again, on a new connection, when a kept one turns out closed before any
// answer came: a receiver may then get an alert twice in a row, which
// at-least-once delivery allows (README, "Webhook sinks"). Returns the HTTP
// status code, or UNAVAILABLE for a transport error or timeout (the message
// says which), CANCELLED when `stopping` became true. Blocks for at most
// `timeout` (plus up to a second to notice `stopping`).
absl::StatusOr<int> Post(std::unique_ptr<CURL, CurlDeleter>* handle,
                         const std::string& url,
                         const std::vector<std::string>& headers,
                         const std::string& body, absl::Duration timeout,
                         const std::atomic<bool>* stopping) {
  if (*handle == nullptr) handle->reset(curl_easy_init());
  CURL* const curl = handle->get();
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  std::unique_ptr<curl_slist, SlistDeleter> list;
  for (const std::string& header : headers) {
    curl_slist* appended = curl_slist_append(list.get(), header.c_str());
    if (appended == nullptr) return absl::InternalError("curl_slist_append");
    (void)list.release();  // now owned by `appended`
    list.reset(appended);
  }
  // NOLINTBEGIN(google-runtime-int,cppcoreguidelines-pro-type-vararg)
  const long timeout_ms =
      std::max<long>(1, static_cast<long>(absl::ToInt64Milliseconds(timeout)));
  std::array<char, CURL_ERROR_SIZE> error{};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   std::min(timeout_ms, kMaxConnectTimeoutMs));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &DiscardBody);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &AbortIfStopping);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, stopping);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error.data());
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "dipwire-webhooks/0.1");
  const CURLcode rc = curl_easy_perform(curl);
  long code = 0;
  if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  // The handle outlives `error`, `list` and `body`.
  curl_easy_reset(curl);
  // NOLINTEND(google-runtime-int,cppcoreguidelines-pro-type-vararg)
  if (rc == CURLE_ABORTED_BY_CALLBACK) {
    return absl::CancelledError("the server is shutting down");
  }
  if (rc != CURLE_OK) {
    return absl::UnavailableError(error[0] != '\0' ? std::string(error.data())
                                                   : curl_easy_strerror(rc));
  }
  return static_cast<int>(code);
}

v1::Sink::Format ApiFormat(v1::SinkConfig::Format format) {
  return format == v1::SinkConfig::SLACK ? v1::Sink::SLACK
                                         : v1::Sink::CLOUDEVENTS;
}

}  // namespace

// One sink: its thread and state.
//
// The thread owns the delivery; the other methods (List, Redeliver, Stop)
// only read the published state or set flags, under mu_.
class WebhookSinks::Worker {
 public:
  Worker(SinkSpec spec, EventStore* store, AlertHub* hub, Clock* clock,
         uint64_t cursor)
      : spec_(std::move(spec)),
        subscription_(SubscriptionName(spec_.name)),
        store_(store),
        hub_(hub),
        clock_(clock),
        random_(std::random_device()()),
        cursor_(cursor) {}

  ~Worker() {
    RequestStop();
    Join();
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void StartThread() {
    thread_ = std::thread([this] { Run(); });
  }

  void RequestStop() ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    abort_.store(true);
  }

  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  [[nodiscard]] const SinkSpec& spec() const { return spec_; }

  v1::Sink Describe() ABSL_LOCKS_EXCLUDED(mu_) {
    v1::Sink sink;
    sink.set_name(spec_.name);
    sink.set_url(RedactUrl(spec_.url));
    sink.set_filter(spec_.filter_text);
    sink.set_format(ApiFormat(spec_.format));
    sink.set_secret_set(!spec_.key.empty());
    absl::MutexLock lock(&mu_);
    if (cursor_ > 0) sink.set_cursor(EncodeCursor(cursor_));
    sink.set_last_error(last_error_);
    return sink;
  }

  [[nodiscard]] uint64_t cursor() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return cursor_;
  }

  // Wakes the thread to look for requeued dead letters.
  void WakeForRedelivery() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    redeliver_ = true;
  }

 private:
  enum class Outcome { kDelivered, kGaveUp, kStopped };

  void Run() ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<StoredAlert> page;
    while (!stopping()) {
      if (TakeRedeliver()) {
        const absl::Status status = RedeliverDeadLetters();
        if (!status.ok()) {
          DIPWIRE_LOG(kError) << "sink " << spec_.name
                              << ": redelivering dead letters: " << status;
          WakeForRedelivery();
          SleepUnlessStopping(kStoreRetry);
        }
        continue;
      }
      page.clear();
      const uint64_t after = cursor();
      const absl::Status read =
          store_->ReadAlerts(after, kPageAlerts, kPageBytes, &page);
      if (read.code() == absl::StatusCode::kOutOfRange) {
        SkipTrimmed(after);
        continue;
      }
      if (!read.ok()) {
        DIPWIRE_LOG(kError)
            << "sink " << spec_.name << ": reading alerts: " << read;
        SleepUnlessStopping(kStoreRetry);
        continue;
      }
      if (page.empty()) {
        hub_->AwaitHead(after, kIdlePoll);
        continue;
      }
      DeliverPage(page);
    }
  }

  // The cursor fell behind retention (README.md, "Retention"): the alerts
  // after it were deleted before the sink delivered them. Moves on to the
  // oldest kept alert, saying how many were lost, rather than stall.
  void SkipTrimmed(uint64_t after) ABSL_LOCKS_EXCLUDED(mu_) {
    const absl::StatusOr<LogHead> head = store_->Head();
    if (!head.ok() || head->alerts_trimmed_through <= after) {
      if (!head.ok()) {
        DIPWIRE_LOG(kError) << "sink " << spec_.name
                            << ": reading the log head: " << head.status();
      }
      SleepUnlessStopping(kStoreRetry);
      return;
    }
    const uint64_t skipped = head->alerts_trimmed_through - after;
    DIPWIRE_LOG(kError) << "sink " << spec_.name << ": retention removed "
                        << skipped
                        << " alerts before they were delivered; going on "
                           "after cursor "
                        << EncodeCursor(head->alerts_trimmed_through)
                        << " (raise --retain-alerts or fix the endpoint)";
    GlobalMetrics().sink_alerts_skipped.Increment(skipped);
    SetCursor(head->alerts_trimmed_through);
    SaveCursor(head->alerts_trimmed_through);
  }

  // Delivers the matching alerts of `page` in order, moving the cursor past
  // each alert done with.
  void DeliverPage(const std::vector<StoredAlert>& page)
      ABSL_LOCKS_EXCLUDED(mu_) {
    // Alerts the filter passes over move the cursor in memory only, and the
    // store with the next write: after a crash they are merely looked at
    // again.
    bool unsaved = false;
    for (const StoredAlert& stored : page) {
      if (stopping()) break;
      if (!spec_.filter.Matches(stored.alert)) {
        SetCursor(stored.position);
        unsaved = true;
        continue;
      }
      int attempts = 0;
      std::string error;
      const Outcome outcome = Deliver(stored.alert, &attempts, &error);
      if (outcome == Outcome::kStopped) break;
      if (outcome == Outcome::kGaveUp) {
        DeadLetterRecord record;
        record.sink = spec_.name;
        record.position = stored.position;
        record.alert = stored.alert;
        record.attempts = attempts;
        record.last_error = error;
        record.failed_at = clock_->Now();
        // Before the cursor moves: a crash in between gives the same dead
        // letter again (PutDeadLetter replaces), never none.
        const absl::Status put = store_->PutDeadLetter(record);
        if (!put.ok()) {
          DIPWIRE_LOG(kError)
              << "sink " << spec_.name << ": storing dead letter "
              << stored.alert.alert_id() << ": " << put;
          // The cursor stays: the alert is tried again.
          SleepUnlessStopping(kStoreRetry);
          break;
        }
        DIPWIRE_LOG(kWarning)
            << "sink " << spec_.name << ": gave up on alert "
            << stored.alert.alert_id() << " after " << attempts << " attempts ("
            << error << "); it is a dead letter now";
      }
      SetCursor(stored.position);
      unsaved = !SaveCursor(stored.position);
    }
    if (unsaved) SaveCursor(cursor());
  }

  // Delivers the requeued dead letters, oldest first, until none is left.
  absl::Status RedeliverDeadLetters() ABSL_LOCKS_EXCLUDED(mu_) {
    while (!stopping()) {
      std::vector<DeadLetterRecord> letters;
      DIPWIRE_RETURN_IF_ERROR(
          store_->ListDeadLetters(spec_.name, /*requeued_only=*/true,
                                  kRedeliverPage, &letters, nullptr));
      if (letters.empty()) return absl::OkStatus();
      for (DeadLetterRecord& letter : letters) {
        DIPWIRE_RETURN_IF_ERROR(Redeliver(letter));
      }
    }
    return absl::OkStatus();
  }

  // Delivers one requeued dead letter: deletes it once delivered, or keeps
  // it (no longer queued) when the sink gives up on it again.
  absl::Status Redeliver(DeadLetterRecord& letter) ABSL_LOCKS_EXCLUDED(mu_) {
    int attempts = 0;
    std::string error;
    switch (Deliver(letter.alert, &attempts, &error)) {
      case Outcome::kStopped:
        return absl::OkStatus();  // still queued: after a restart
      case Outcome::kDelivered:
        return store_->DeleteDeadLetter(spec_.name, letter.position);
      case Outcome::kGaveUp:
        break;
    }
    letter.attempts += attempts;
    letter.last_error = error;
    letter.failed_at = clock_->Now();
    letter.requeued = false;
    return store_->PutDeadLetter(letter);
  }

  // Posts `alert` until a 2xx answer, max_attempts failures, or Stop.
  // `*attempts` counts the requests made; `*error` says why the last failed.
  Outcome Deliver(const v1::Alert& alert, int* attempts, std::string* error)
      ABSL_LOCKS_EXCLUDED(mu_) {
    const bool slack = spec_.format == v1::SinkConfig::SLACK;
    const std::string body =
        slack ? SlackMessageJson(alert) : CloudEventJson(alert, spec_.source);
    for (int attempt = 1;; ++attempt) {
      if (stopping()) return Outcome::kStopped;
      const int64_t timestamp = absl::ToUnixSeconds(clock_->Now());
      std::vector<std::string> headers = {
          absl::StrCat("Content-Type: ",
                       slack ? kSlackContentType : kCloudEventsContentType),
          absl::StrCat("webhook-id: ", alert.alert_id()),
          absl::StrCat("webhook-timestamp: ", timestamp),
          // No "Expect: 100-continue" round trip for larger bodies.
          "Expect:"};
      if (!spec_.key.empty()) {
        headers.push_back(absl::StrCat(
            "webhook-signature: ",
            WebhookSignature(spec_.key, alert.alert_id(), timestamp, body)));
      }
      ++*attempts;
      const absl::StatusOr<int> code =
          Post(&curl_, spec_.url, headers, body, spec_.timeout, &abort_);
      if (code.ok() && *code >= 200 && *code < 300) {
        GlobalMetrics().sink_deliveries.Increment();
        SetLastError("");
        return Outcome::kDelivered;
      }
      if (!code.ok() && code.status().code() == absl::StatusCode::kCancelled) {
        return Outcome::kStopped;
      }
      GlobalMetrics().sink_failures.Increment();
      *error = code.ok() ? absl::StrCat("HTTP ", *code)
                         : std::string(code.status().message());
      SetLastError(absl::StrCat("alert ", alert.alert_id(), ", attempt ",
                                attempt, ": ", *error));
      DIPWIRE_LOG(kDebug) << "sink " << spec_.name << ": alert "
                          << alert.alert_id() << " attempt " << attempt
                          << " failed: " << *error;
      if (attempt >= spec_.max_attempts) return Outcome::kGaveUp;
      if (SleepUnlessStopping(Backoff(attempt))) return Outcome::kStopped;
    }
  }

  // The wait after failed attempt `attempt` (1-based): initial_backoff
  // doubled per attempt, capped at max_backoff, times a factor in
  // [1 - kJitter, 1 + kJitter).
  absl::Duration Backoff(int attempt) {
    const double doublings = std::min(attempt - 1, 62);
    absl::Duration delay = spec_.max_backoff;
    if (absl::FDivDuration(spec_.max_backoff, spec_.initial_backoff) >
        std::exp2(doublings)) {
      delay = spec_.initial_backoff * std::exp2(doublings);
    }
    std::uniform_real_distribution<double> factor(1 - kJitter, 1 + kJitter);
    return delay * factor(random_);
  }

  // Sleeps `d`; returns true (at once) when Stop was called.
  bool SleepUnlessStopping(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&stopping_), d);
  }

  [[nodiscard]] bool stopping() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return stopping_;
  }

  bool TakeRedeliver() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return std::exchange(redeliver_, false);
  }

  void SetCursor(uint64_t position) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    cursor_ = position;
  }

  void SetLastError(std::string error) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    last_error_ = std::move(error);
  }

  // Stores the cursor; false (logged) when the store failed, in which case
  // the next save covers it.
  bool SaveCursor(uint64_t position) {
    const absl::Status status =
        store_->AdvanceSubscription(subscription_, position, clock_->Now());
    if (status.ok()) return true;
    DIPWIRE_LOG(kError) << "sink " << spec_.name
                        << ": saving the cursor: " << status;
    return false;
  }

  // Const after construction.
  const SinkSpec spec_;
  const std::string subscription_;
  EventStore* const store_;
  AlertHub* const hub_;
  Clock* const clock_;

  // Self-synchronized: set by Stop, read by libcurl's progress callback.
  std::atomic<bool> abort_{false};

  // Touched only by the sink's thread (and StartThread/Stop).
  std::mt19937_64 random_;
  // The sink's HTTP client, with its connections: made by the first Post
  // (and again by the next, should curl_easy_init fail).
  std::unique_ptr<CURL, CurlDeleter> curl_;
  std::thread thread_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool redeliver_ ABSL_GUARDED_BY(mu_) = true;  // requeued before a restart
  uint64_t cursor_ ABSL_GUARDED_BY(mu_);
  std::string last_error_ ABSL_GUARDED_BY(mu_);
};

std::string WebhookSinks::SubscriptionName(absl::string_view name) {
  return absl::StrCat("_sink.", name);
}

absl::StatusOr<std::unique_ptr<WebhookSinks>> WebhookSinks::Start(
    std::vector<SinkSpec> specs, EventStore* store, AlertHub* hub,
    Clock* clock) {
  if (!specs.empty()) InitCurl();
  std::vector<std::unique_ptr<Worker>> workers;
  for (SinkSpec& spec : specs) {
    const std::string subscription = SubscriptionName(spec.name);
    DIPWIRE_ASSIGN_OR_RETURN(const std::optional<uint64_t> position,
                             store->GetSubscription(subscription));
    uint64_t cursor = 0;
    if (position.has_value()) {
      cursor = *position;
    } else {
      // EARLIEST: the oldest alert retention kept.
      cursor = spec.start_earliest ? hub->trimmed_through() : hub->head();
      DIPWIRE_RETURN_IF_ERROR(
          store->PutSubscription(subscription, cursor, clock->Now()));
    }
    workers.push_back(
        std::make_unique<Worker>(std::move(spec), store, hub, clock, cursor));
  }
  for (const auto& worker : workers) worker->StartThread();
  return std::unique_ptr<WebhookSinks>(
      new WebhookSinks(store, hub, std::move(workers)));
}

WebhookSinks::WebhookSinks(EventStore* store, AlertHub* hub,
                           std::vector<std::unique_ptr<Worker>> workers)
    : store_(store), hub_(hub), workers_(std::move(workers)) {}

WebhookSinks::~WebhookSinks() { Stop(); }

void WebhookSinks::Stop() {
  // Flag them all first, so that they wind down together.
  for (const auto& worker : workers_) worker->RequestStop();
  for (const auto& worker : workers_) worker->Join();
}

WebhookSinks::Worker* WebhookSinks::Find(absl::string_view name) const {
  for (const auto& worker : workers_) {
    if (worker->spec().name == name) return worker.get();
  }
  return nullptr;
}

absl::StatusOr<std::vector<v1::Sink>> WebhookSinks::List() {
  std::vector<v1::Sink> sinks;
  const uint64_t head = hub_->head();
  for (const auto& worker : workers_) {
    v1::Sink sink = worker->Describe();
    const uint64_t cursor = worker->cursor();
    sink.set_lag(head > cursor ? head - cursor : 0);
    int64_t total = 0;
    DIPWIRE_RETURN_IF_ERROR(store_->ListDeadLetters(
        worker->spec().name, /*requeued_only=*/false, 0, nullptr, &total));
    sink.set_dead_letters(total);
    sinks.push_back(std::move(sink));
  }
  return sinks;
}

absl::StatusOr<v1::ListDeadLettersResponse> WebhookSinks::ListDeadLetters(
    absl::string_view name, size_t max_count) {
  if (Find(name) == nullptr) return UnknownSink(name);
  std::vector<DeadLetterRecord> records;
  int64_t total = 0;
  DIPWIRE_RETURN_IF_ERROR(store_->ListDeadLetters(name, /*requeued_only=*/false,
                                                  max_count, &records, &total));
  v1::ListDeadLettersResponse response;
  response.set_total(total);
  for (DeadLetterRecord& record : records) {
    v1::DeadLetter* letter = response.add_dead_letters();
    *letter->mutable_alert() = std::move(record.alert);
    letter->set_attempts(record.attempts);
    letter->set_last_error(record.last_error);
    const int64_t nanos = absl::ToUnixNanos(record.failed_at);
    letter->mutable_failed_at()->set_seconds(nanos / 1'000'000'000);
    letter->mutable_failed_at()->set_nanos(
        static_cast<int32_t>(nanos % 1'000'000'000));
    letter->set_redelivering(record.requeued);
  }
  return response;
}

absl::StatusOr<int64_t> WebhookSinks::Redeliver(absl::string_view name) {
  Worker* worker = Find(name);
  if (worker == nullptr) return UnknownSink(name);
  DIPWIRE_ASSIGN_OR_RETURN(const int64_t requeued,
                           store_->RequeueDeadLetters(name));
  worker->WakeForRedelivery();
  return requeued;
}

absl::Status WebhookSinks::UnknownSink(absl::string_view name) {
  return absl::NotFoundError(absl::StrCat("sink: no sink named \"",
                                          absl::CHexEscape(name),
                                          "\" (see dipwire sinks list)"));
}

}  // namespace dipwire::server

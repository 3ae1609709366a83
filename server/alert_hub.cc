#include "server/alert_hub.h"

#include <sched.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/util/time_util.h"
#include "server/cursor.h"
#include "server/metrics.h"

namespace dipwire::server {
namespace {

// Tail entries copied per lock hold while collecting.
constexpr size_t kTailChunk = 256;

// The cores this process may run on: its CPU affinity (a container's
// --cpuset-cpus, taskset), else what the machine has. A CPU quota
// (--cpus) is not seen.
int UsableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  return static_cast<int>(std::thread::hardware_concurrency());
}

google::protobuf::Timestamp ToProtoTime(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      absl::ToUnixNanos(t));
}

// A serialized SubscribeResponse is the concatenation of its fields, and
// `alerts` is field 1: so a response is built by appending each alert's
// serialization behind a tag and a length. An alert is serialized once
// (StoredAlert::payload) however many subscribers receive it; each delivery
// is then a copy of bytes.
static_assert(v1::SubscribeResponse::kAlertsFieldNumber == 1);
constexpr uint8_t kAlertsTag = (1 << 3) | 2;  // field 1, length-delimited

// The payload, or the alert serialized here when it came without one.
absl::string_view PayloadOf(const StoredAlert& alert, std::string* scratch) {
  if (!alert.payload.empty()) return alert.payload;
  scratch->clear();
  alert.alert.SerializeToString(scratch);
  return *scratch;
}

// The bytes `payload` takes in a response: tag, length and the payload.
size_t FieldSize(absl::string_view payload) {
  return 1 +
         google::protobuf::io::CodedOutputStream::VarintSize32(
             static_cast<uint32_t>(payload.size())) +
         payload.size();
}

void AppendAlertField(absl::string_view payload, std::string* wire) {
  std::array<uint8_t, 1 + 5> head{kAlertsTag};  // tag, varint length
  const uint8_t* end =
      google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
          static_cast<uint32_t>(payload.size()), &head[1]);
  wire->append(reinterpret_cast<const char*>(head.data()),
               static_cast<size_t>(end - head.data()));
  wire->append(payload.data(), payload.size());
}

}  // namespace

// One attached stream. Fields marked "owner" are touched only by the thread
// that owns the stream's current state (the worker while kRunning, else
// nobody), so they need no lock.
struct AlertHub::Sub {
  StreamId id = 0;
  Stream* stream = nullptr;
  Filter filter;
  StartSpec start;
  absl::Duration heartbeat;

  bool started = false;  // owner
  uint64_t after = 0;    // owner: position of the last alert examined
  // owner: the response being collected, serialized, and its alerts.
  std::string response;
  size_t response_alerts = 0;

  uint64_t latest = 0;  // const: the head when the stream attached

  State state = State::kQueued;  // guarded by mu_
  bool cancelled = false;        // guarded by mu_
  bool taken_over = false;       // guarded by mu_
  bool deleted = false;          // guarded by mu_: durable one deleted
  bool open = true;              // guarded by mu_: counted in open_streams_
  absl::Time last_write;         // guarded by mu_
};

AlertHub::AlertHub(EventStore* store, Clock* clock, AlertHubOptions options)
    : store_(store), clock_(clock), options_(options) {}

AlertHub::~AlertHub() { Stop(); }

absl::Status AlertHub::Start() {
  DIPWIRE_ASSIGN_OR_RETURN(const LogHead head, store_->Head());
  // Not before the oldest alert retention kept.
  const uint64_t from =
      std::max(head.alerts_trimmed_through,
               head.last_alert_position > options_.tail_capacity
                   ? head.last_alert_position - options_.tail_capacity
                   : 0);
  std::vector<StoredAlert> recent;
  DIPWIRE_RETURN_IF_ERROR(store_->ReadAlerts(from, options_.tail_capacity,
                                             static_cast<size_t>(-1), &recent));
  {
    absl::MutexLock lock(&mu_);
    head_ = head.last_alert_position;
    trimmed_through_ = head.alerts_trimmed_through;
    tail_first_ = from + 1;
    for (StoredAlert& alert : recent) {
      tail_.push_back(std::make_shared<const StoredAlert>(std::move(alert)));
    }
    if (tail_.size() != head_ - from) {
      return absl::InternalError(absl::StrCat("alert log has ", tail_.size(),
                                              " alerts after ", from,
                                              " but its head is ", head_));
    }
  }
  const int live_threads = options_.live_threads > 0
                               ? options_.live_threads
                               : std::max(1, UsableCores() / 2);
  threads_.reserve(
      static_cast<size_t>(live_threads + options_.catch_up_threads) + 1);
  for (int i = 0; i < live_threads; ++i) {
    threads_.emplace_back([this] { WorkerLoop(/*catch_up=*/false); });
  }
  for (int i = 0; i < options_.catch_up_threads; ++i) {
    threads_.emplace_back([this] { WorkerLoop(/*catch_up=*/true); });
  }
  threads_.emplace_back([this] { TickerLoop(); });
  return absl::OkStatus();
}

std::vector<std::shared_ptr<const StoredAlert>> AlertHub::Publish(
    std::vector<std::shared_ptr<const StoredAlert>> alerts) {
  // Declared before the lock, and returned: what the tail lets go, like what
  // a broken caller's gap leaves in `alerts`, is destroyed outside the lock.
  std::vector<std::shared_ptr<const StoredAlert>> released;
  if (alerts.empty()) return released;
  absl::MutexLock lock(&mu_);
  size_t published = 0;
  for (auto& alert : alerts) {
    if (alert->position != head_ + 1) {
      // A broken caller; the store would have refused the same gap.
      DIPWIRE_LOG(kError) << "alert position " << alert->position
                          << " does not follow head " << head_;
      break;
    }
    head_ = alert->position;
    tail_.push_back(std::move(alert));
    ++published;
  }
  while (tail_.size() > options_.tail_capacity) {
    released.push_back(std::move(tail_.front()));
    tail_.pop_front();
    ++tail_first_;
  }
  if (published > 0) {
    for (Sub* sub : waiting_) Enqueue(sub);
    waiting_.clear();
  }
  return released;
}

uint64_t AlertHub::head() const {
  absl::MutexLock lock(&mu_);
  return head_;
}

void AlertHub::SetTrimmedThrough(uint64_t position) {
  absl::MutexLock lock(&mu_);
  trimmed_through_ = std::max(trimmed_through_, position);
}

uint64_t AlertHub::trimmed_through() const {
  absl::MutexLock lock(&mu_);
  return trimmed_through_;
}

uint64_t AlertHub::AwaitHead(uint64_t after, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  const HeadWait wait{this, after};
  mu_.AwaitWithTimeout(absl::Condition(&AlertHub::HeadPast, &wait), timeout);
  return head_;
}

bool AlertHub::HeadPast(const HeadWait* wait) {
  // Called by the Mutex with mu_ held (Await's contract).
  return wait->hub->head_ > wait->after || wait->hub->stopping_;
}

size_t AlertHub::stream_count() const {
  absl::MutexLock lock(&mu_);
  return subs_.size();
}

size_t AlertHub::open_stream_count() const {
  absl::MutexLock lock(&mu_);
  return open_streams_;
}

AlertHub::StreamStats AlertHub::stream_stats() const {
  absl::MutexLock lock(&mu_);
  StreamStats stats;
  stats.open_streams = open_streams_;
  for (const auto& [id, sub] : subs_) {
    // A running stream's cursor belongs to its worker; any other state was
    // handed over under mu_ (see Enqueue).
    if (sub->state == State::kRunning || !sub->started) continue;
    stats.max_lag =
        std::max(stats.max_lag, head_ - std::min(sub->after, head_));
  }
  return stats;
}

void AlertHub::Close(Sub* sub) {
  mu_.AssertHeld();
  if (!sub->open) return;
  sub->open = false;
  --open_streams_;
  if (sub->taken_over) {
    auto it = taken_over_open_.find(sub->start.subscription);
    if (it != taken_over_open_.end() && --it->second == 0) {
      taken_over_open_.erase(it);
    }
  }
}

absl::StatusOr<AlertHub::StreamId> AlertHub::Attach(Stream* stream,
                                                    Filter filter,
                                                    const StartSpec& start,
                                                    absl::Duration heartbeat) {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) {
    return absl::UnavailableError("the server is shutting down");
  }
  // A takeover ends the stream it replaces, so it is let in at the limit: a
  // client reconnecting to its durable subscription gets in even when the
  // old connection's stream has not been noticed dead yet. The old stream
  // counts until it has ended, which a stream whose client reads nothing
  // does only when its write does; while one of a name has not, a takeover
  // of that name is held to the limit like any stream, so that taking over
  // again and again cannot pile up streams beyond it.
  const bool takes_over = !start.subscription.empty() &&
                          durable_.contains(start.subscription) &&
                          !taken_over_open_.contains(start.subscription);
  if (!takes_over && open_streams_ >= options_.max_streams) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many concurrent streams: this server serves at most ",
        options_.max_streams, " Subscribe streams at once (--max-streams=",
        options_.max_streams, "); retry later"));
  }
  auto sub = std::make_unique<Sub>();
  switch (start.kind) {
    case StartSpec::Kind::kLatest:
      // Only alerts committed after the stream started.
      sub->after = head_;
      sub->started = true;
      break;
    case StartSpec::Kind::kEarliest:
      // The oldest alert retention kept (README.md, "Retention").
      sub->after = trimmed_through_;
      sub->started = true;
      break;
    case StartSpec::Kind::kAfterPosition:
      if (start.after_position > head_) {
        return absl::InvalidArgumentError(absl::StrCat(
            "after_cursor: the cursor is ahead of the newest alert (",
            head_ == 0 ? "the log has no alert yet"
                       : absl::StrCat("head cursor ", EncodeCursor(head_)),
            ")"));
      }
      if (start.after_position < trimmed_through_) {
        return AlertsTrimmedError("after_cursor", trimmed_through_);
      }
      sub->after = start.after_position;
      sub->started = true;
      break;
    case StartSpec::Kind::kAtTime:
    case StartSpec::Kind::kResume:
      // Resolved against the store by the first worker turn.
      break;
  }
  sub->latest = head_;
  if (!start.subscription.empty()) {
    // Resolved (and stored) by the first catch-up turn, off this thread.
    sub->started = false;
  }
  sub->id = next_id_++;
  sub->stream = stream;
  sub->filter = std::move(filter);
  sub->start = start;
  sub->heartbeat = heartbeat;
  // The first turn with nothing to deliver sends a heartbeat at once: the
  // client learns the stream is attached, and where it stands.
  sub->last_write = absl::InfinitePast();
  Sub* raw = sub.get();
  subs_.emplace(raw->id, std::move(sub));
  ++open_streams_;
  if (!start.subscription.empty()) {
    auto [it, inserted] = durable_.try_emplace(start.subscription, raw->id);
    if (!inserted) {
      // Take over: the older stream ends with ABORTED, woken like a cancel.
      auto old = subs_.find(it->second);
      if (old != subs_.end()) {
        old->second->taken_over = true;
        EndHolder(old->second.get());
      }
      it->second = raw->id;
    }
  }
  Enqueue(raw);
  return raw->id;
}

void AlertHub::EndHolder(Sub* sub) {
  mu_.AssertHeld();
  // It counts toward max_streams until NextStep ends it (Close), which a
  // stream whose client reads nothing reaches only once its write is done.
  if (sub->taken_over && sub->open) {
    ++taken_over_open_[sub->start.subscription];  // until Close
  }
  if (sub->state == State::kWaiting) {
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), sub));
    Enqueue(sub);
  }
}

absl::Status AlertHub::DeleteSubscription(absl::string_view name) {
  absl::MutexLock write_lock(&durable_write_mu_);
  DIPWIRE_RETURN_IF_ERROR(store_->DeleteSubscription(name));
  absl::MutexLock lock(&mu_);
  auto held = durable_.find(name);
  if (held == durable_.end()) return absl::OkStatus();
  auto it = subs_.find(held->second);
  durable_.erase(held);
  if (it == subs_.end()) return absl::OkStatus();
  it->second->deleted = true;
  EndHolder(it->second.get());
  return absl::OkStatus();
}

void AlertHub::Enqueue(Sub* sub) {
  mu_.AssertHeld();
  sub->state = State::kQueued;
  // sub->after and sub->started were last written by the worker that owned
  // the stream, before it took mu_ to hand the stream on.
  const bool behind_tail =
      !sub->started || (sub->after < head_ && sub->after + 1 < tail_first_);
  (behind_tail ? catch_up_queue_ : live_queue_).push_back(sub);
}

void AlertHub::WriteDone(StreamId id, bool ok) {
  absl::MutexLock lock(&mu_);
  auto it = subs_.find(id);
  if (it == subs_.end() || it->second->state != State::kWriting) return;
  // Delivered once gRPC has taken the whole response; response_alerts is
  // the written response's until the next Serve.
  if (ok) {
    GlobalMetrics().alerts_delivered.Increment(it->second->response_alerts);
  } else {
    it->second->cancelled = true;
  }
  Enqueue(it->second.get());
}

void AlertHub::Cancel(StreamId id) {
  absl::MutexLock lock(&mu_);
  auto it = subs_.find(id);
  if (it == subs_.end()) return;
  Sub* sub = it->second.get();
  sub->cancelled = true;
  if (sub->state == State::kWaiting) {
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), sub));
    Enqueue(sub);
  }
  // kQueued and kRunning: the worker sees the flag; kWriting: WriteDone
  // follows; kFinished: nothing left to do.
}

void AlertHub::Detach(StreamId id) {
  absl::MutexLock lock(&mu_);
  auto it = subs_.find(id);
  if (it == subs_.end()) return;
  Sub* sub = it->second.get();
  // Detach follows End, so the stream is normally kFinished; be defensive
  // about the lists anyway.
  waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), sub),
                 waiting_.end());
  Close(sub);
  if (!sub->start.subscription.empty()) {
    auto held = durable_.find(sub->start.subscription);
    if (held != durable_.end() && held->second == id) durable_.erase(held);
  }
  for (std::deque<Sub*>* queue : {&live_queue_, &catch_up_queue_}) {
    queue->erase(std::remove(queue->begin(), queue->end(), sub), queue->end());
  }
  subs_.erase(it);
}

void AlertHub::BeginShutdown() {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
  for (Sub* sub : waiting_) Enqueue(sub);
  waiting_.clear();
}

void AlertHub::Stop() {
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    stopping_ = true;
    for (Sub* sub : waiting_) Enqueue(sub);
    waiting_.clear();
  }
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

void AlertHub::WorkerLoop(bool catch_up) {
  std::deque<Sub*>& queue = catch_up ? catch_up_queue_ : live_queue_;
  struct Wait {
    AlertHub* hub;
    std::deque<Sub*>* queue;
  } wait{this, &queue};
  while (true) {
    Sub* sub = nullptr;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Wait* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            // mu_ is held: Await evaluates conditions under it.
            return !w->queue->empty() || w->hub->stopping_;
          },
          &wait));
      if (queue.empty()) return;  // stopping, nothing left
      sub = queue.front();
      queue.pop_front();
      sub->state = State::kRunning;
    }
    Serve(sub, catch_up);
  }
}

void AlertHub::TickerLoop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.heartbeat_tick);
    const absl::Time now = clock_->Now();
    for (size_t i = 0; i < waiting_.size();) {
      Sub* sub = waiting_[i];
      if (now - sub->last_write >= sub->heartbeat) {
        waiting_[i] = waiting_.back();
        waiting_.pop_back();
        Enqueue(sub);
      } else {
        ++i;
      }
    }
  }
}

void AlertHub::Serve(Sub* sub, bool catch_up) {
  // A live worker never reads the store: a stream that has fallen behind
  // the tail yields at once and is requeued for the catch-up pool.
  absl::Status status = catch_up ? ResolveStart(sub) : absl::OkStatus();
  bool yielded = false;
  sub->response.clear();
  sub->response_alerts = 0;
  if (status.ok()) {
    status = Collect(sub, catch_up ? options_.max_store_pages_per_turn : 0,
                     &yielded);
  }

  Stream* const stream = sub->stream;
  switch (NextStep(sub, yielded, &status)) {
    case Step::kWrite:
      stream->Send(std::move(sub->response));
      break;
    case Step::kEnd:
      if (status.code() == absl::StatusCode::kInternal) {
        DIPWIRE_LOG(kError)
            << "subscription " << sub->id << " ended: " << status;
      }
      // Last touch of this stream: Detach (from OnDone) may follow at once.
      stream->End(status);
      break;
    case Step::kNone:
      break;
  }
}

absl::Status AlertHub::ResolveStart(Sub* sub) {
  if (sub->started) return absl::OkStatus();
  const StartSpec& start = sub->start;
  if (start.kind == StartSpec::Kind::kAtTime) {
    // The alerts created at or after start.time, those retention kept.
    DIPWIRE_ASSIGN_OR_RETURN(sub->after,
                             store_->AlertPositionBefore(start.time));
    sub->after = std::max(sub->after, trimmed_through());
  }
  if (!start.subscription.empty()) {
    if (start.kind == StartSpec::Kind::kResume) {
      DIPWIRE_ASSIGN_OR_RETURN(const std::optional<uint64_t> acked,
                               store_->GetSubscription(start.subscription));
      if (acked.has_value()) {
        if (const uint64_t trimmed = trimmed_through(); *acked < trimmed) {
          // Never a silent skip: the client decides to move on (a start
          // moves the subscription).
          return AlertsTrimmedError(
              absl::StrCat("subscription \"", start.subscription, "\""),
              trimmed);
        }
        sub->after = *acked;
        sub->started = true;
        return absl::OkStatus();
      }
      // Created on first use at the default start, LATEST.
      sub->after = std::max(sub->latest, trimmed_through());
    }
    // The check and the write under durable_write_mu_: a DeleteSubscription
    // cannot come between them.
    absl::MutexLock write_lock(&durable_write_mu_);
    {
      // A stream already taken over must not move the subscription under
      // its successor, nor put a deleted one back; NextStep ends it.
      absl::MutexLock lock(&mu_);
      if (sub->taken_over || sub->deleted) return absl::OkStatus();
    }
    // Created at the stream's start, or moved (seeks) there (DESIGN.md).
    DIPWIRE_RETURN_IF_ERROR(
        store_->PutSubscription(start.subscription, sub->after, clock_->Now()));
  }
  sub->started = true;
  return absl::OkStatus();
}

AlertHub::Step AlertHub::NextStep(Sub* sub, bool yielded,
                                  absl::Status* status) {
  absl::MutexLock lock(&mu_);
  if (status->ok() && sub->taken_over) {
    *status = absl::AbortedError(absl::StrCat(
        "another stream took over subscription ", sub->start.subscription));
  } else if (status->ok() && sub->deleted) {
    *status = absl::NotFoundError(absl::StrCat(
        "durable subscription ", sub->start.subscription, " was deleted"));
  } else if (status->ok() && sub->cancelled) {
    *status = absl::CancelledError("the subscriber went away");
  } else if (status->ok() && shutting_down_) {
    *status = absl::UnavailableError(
        "the server is shutting down; resubscribe after your last cursor");
  }
  if (!status->ok()) {
    sub->state = State::kFinished;
    Close(sub);
    return Step::kEnd;
  }
  const absl::Time now = clock_->Now();
  if (sub->response_alerts == 0) {
    // A stream scanning a long stretch that its filter rejects still gets
    // its heartbeats: the client must not take it for a dead connection.
    const bool heartbeat_due = now - sub->last_write >= sub->heartbeat;
    if (!heartbeat_due && (yielded || sub->after < head_)) {
      Enqueue(sub);  // more to scan; let other streams have a turn
      return Step::kNone;
    }
    if (!heartbeat_due) {
      sub->state = State::kWaiting;
      waiting_.push_back(sub);
      return Step::kNone;
    }
    // The stream has been served every alert up to sub->after (its head;
    // the log's once it has caught up): a client may resume after it.
    v1::SubscribeResponse response;
    v1::Heartbeat* heartbeat = response.mutable_heartbeat();
    *heartbeat->mutable_server_time() = ToProtoTime(now);
    if (sub->started && sub->after > 0) {
      heartbeat->set_head_cursor(EncodeCursor(sub->after));
    }
    response.SerializeToString(&sub->response);
  }
  sub->state = State::kWriting;
  sub->last_write = now;
  return Step::kWrite;
}

bool AlertHub::Offer(Sub* sub, const StoredAlert& alert) const {
  if (sub->filter.Matches(alert.alert)) {
    std::string scratch;
    const absl::string_view payload = PayloadOf(alert, &scratch);
    if (sub->response_alerts > 0 &&
        (sub->response.size() + FieldSize(payload) >
             options_.max_response_bytes ||
         sub->response_alerts >= options_.max_response_alerts)) {
      return false;  // full; this alert starts the next response
    }
    AppendAlertField(payload, &sub->response);
    ++sub->response_alerts;
  }
  sub->after = alert.position;
  return true;
}

bool AlertHub::CopyTail(const Sub& sub,
                        std::vector<std::shared_ptr<const StoredAlert>>* chunk,
                        bool* caught_up) const {
  absl::MutexLock lock(&mu_);
  *caught_up = sub.after >= head_;
  if (*caught_up || sub.after + 1 < tail_first_) return false;
  const size_t begin = sub.after + 1 - tail_first_;
  const size_t end = std::min(tail_.size(), begin + kTailChunk);
  chunk->assign(tail_.begin() + static_cast<std::ptrdiff_t>(begin),
                tail_.begin() + static_cast<std::ptrdiff_t>(end));
  return true;
}

absl::Status AlertHub::Collect(Sub* sub, int store_pages, bool* yielded) {
  std::vector<std::shared_ptr<const StoredAlert>> chunk;
  std::vector<StoredAlert> page;
  while (true) {
    bool caught_up = false;
    chunk.clear();
    if (CopyTail(*sub, &chunk, &caught_up)) {
      const bool full =
          std::any_of(chunk.begin(), chunk.end(),
                      [&](const auto& alert) { return !Offer(sub, *alert); });
      if (full) return absl::OkStatus();
      continue;
    }
    if (caught_up) return absl::OkStatus();
    // Behind the in-memory tail: one bounded page from the store.
    if (store_pages-- <= 0) {
      *yielded = true;
      return absl::OkStatus();
    }
    page.clear();
    DIPWIRE_RETURN_IF_ERROR(
        // No more than the response can still take (at least one alert
        // comes): what does not fit would be read again next turn.
        store_->ReadAlerts(
            sub->after, options_.store_page_alerts,
            options_.max_response_bytes -
                std::min(sub->response.size(), options_.max_response_bytes),
            &page));
    const bool full = std::any_of(
        page.begin(), page.end(),
        [&](const StoredAlert& alert) { return !Offer(sub, alert); });
    if (full || page.empty()) return absl::OkStatus();
  }
}

}  // namespace dipwire::server

#include "server/publish_pipeline.h"

#include <openssl/evp.h>
#include <pthread.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/proto_bytes.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "server/cursor.h"
#include "server/metrics.h"

namespace dipwire::server {
namespace {

// Events read per page while replaying the log on start.
constexpr size_t kReplayPage = 1024;

// Committed groups waiting for the answer thread at most; a writer this far
// ahead waits. Each holds its requests' memory until answered.
constexpr size_t kMaxQueuedGroups = 64;

// Set on the answer thread while it answers a group's batches: the flushes
// AfterGroupAnswered defers to the end of the group.
thread_local std::vector<absl::AnyInvocable<void()&&>>* group_flushes = nullptr;

// SHA-256 of `bytes`, the deterministic serialization of an event as
// submitted: what idempotency compares (DESIGN.md: "compared as submitted,
// before any default is applied, so a retry is always a duplicate").
std::string ContentHash(const std::string& bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), &size, EVP_sha256(),
             nullptr);
  return {reinterpret_cast<const char*>(digest.data()), size};
}

google::protobuf::Timestamp ToProtoTime(absl::Time t) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(t));
}

}  // namespace

PublishPipeline::PublishPipeline(EventStore* store, AlertHub* hub, Clock* clock,
                                 PublishPipelineOptions options)
    : store_(store), hub_(hub), clock_(clock), options_(options) {}

absl::StatusOr<std::unique_ptr<PublishPipeline>> PublishPipeline::Start(
    EventStore* store, AlertHub* hub, Clock* clock,
    PublishPipelineOptions options) {
  std::unique_ptr<PublishPipeline> pipeline(
      new PublishPipeline(store, hub, clock, options));
  DIPWIRE_RETURN_IF_ERROR(pipeline->Recover());
  pipeline->writer_ = std::thread([p = pipeline.get()] {
    // Named, so that top -H and perf tell it apart from gRPC's threads.
    pthread_setname_np(pthread_self(), "dipwire-writer");
    p->WriterLoop();
  });
  pipeline->answerer_ = std::thread([p = pipeline.get()] {
    pthread_setname_np(pthread_self(), "dipwire-answer");
    p->AnswerLoop();
  });
  return pipeline;
}

PublishPipeline::~PublishPipeline() { Stop(); }

absl::Status PublishPipeline::Recover() {
  DIPWIRE_ASSIGN_OR_RETURN(const LogHead head, store_->Head());
  DIPWIRE_ASSIGN_OR_RETURN(const std::optional<EngineSnapshot> snapshot,
                           store_->NewestSnapshot());
  // Built aside and swapped in whole: a replay that fails half way must not
  // leave a half-replayed engine behind.
  auto engine = std::make_unique<AlertEngine>();
  uint64_t derived_alerts = 0;
  uint64_t start = 0;
  if (snapshot.has_value()) {
    const absl::Status loaded = engine->LoadState(snapshot->state);
    if (loaded.ok()) {
      start = snapshot->sequence;
      derived_alerts = snapshot->alert_position;
    } else if (head.events_trimmed_through > 0) {
      // The events before the snapshot are gone: there is nothing to
      // derive the state from but the snapshot.
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot load the alert engine snapshot at event ", snapshot->sequence,
          " (", loaded.message(), ") and retention removed the events up to ",
          head.events_trimmed_through, ": run the dipwired that wrote it"));
    } else {
      DIPWIRE_LOG(kWarning) << "cannot load the alert engine snapshot at event "
                            << snapshot->sequence << " (" << loaded
                            << "); replaying the whole event log instead";
      engine = std::make_unique<AlertEngine>();
    }
  }
  if (start < head.events_trimmed_through) {
    return absl::InternalError(absl::StrCat(
        "retention removed the events up to ", head.events_trimmed_through,
        " but the newest engine snapshot is ",
        snapshot.has_value() ? absl::StrCat("at event ", snapshot->sequence)
                             : "missing"));
  }
  uint64_t after = start;
  DIPWIRE_RETURN_IF_ERROR(Replay(engine.get(), start, &after, &derived_alerts));
  if (after != head.last_sequence) {
    return absl::InternalError(absl::StrCat(
        "event log ends at ", after, " but its head is ", head.last_sequence));
  }
  if (derived_alerts != head.last_alert_position) {
    // The rules changed since these alerts were stored. The stored alerts
    // stay as they are (cursors must not move); new events continue from
    // the engine state the current rules derive.
    DIPWIRE_LOG(kWarning) << "replay derived " << derived_alerts
                          << " alerts but the log holds "
                          << head.last_alert_position;
  }
  engine_ = std::move(engine);
  last_sequence_ = head.last_sequence;
  last_alert_position_ = head.last_alert_position;
  last_committed_at_ = head.last_committed_at;
  replayed_events_ = after - start;
  return absl::OkStatus();
}

absl::Status PublishPipeline::Rewind() {
  DIPWIRE_ASSIGN_OR_RETURN(const LogHead head, store_->Head());
  if (rewind_point_.has_value() &&
      rewind_point_->sequence == head.last_sequence &&
      rewind_point_->alert_position == head.last_alert_position) {
    auto engine = std::make_unique<AlertEngine>();
    // A state SaveState wrote loads; were it refused, Recover still works.
    if (engine->LoadState(rewind_point_->state).ok()) {
      engine_ = std::move(engine);
      last_sequence_ = head.last_sequence;
      last_alert_position_ = head.last_alert_position;
      last_committed_at_ = head.last_committed_at;
      return absl::OkStatus();
    }
  }
  rewind_point_.reset();
  DIPWIRE_RETURN_IF_ERROR(Recover());
  rewind_point_ =
      RewindPoint{last_sequence_, last_alert_position_, engine_->SaveState()};
  return absl::OkStatus();
}

absl::Status PublishPipeline::Replay(AlertEngine* engine, uint64_t after,
                                     uint64_t* last, uint64_t* derived_alerts) {
  std::vector<StoredEvent> page;
  while (true) {
    page.clear();
    DIPWIRE_RETURN_IF_ERROR(store_->ReadEvents(after, kReplayPage, &page));
    if (page.empty()) break;
    for (const StoredEvent& stored : page) {
      if (stored.sequence != after + 1) {
        // ReadEvents skips trimmed events: a gap means one is missing here.
        return absl::InternalError(absl::StrCat(
            "replay after event ", after, " found event ", stored.sequence,
            " next (its payload was removed by retention?)"));
      }
      *derived_alerts += engine
                             ->Apply(LogEntry{stored.sequence, &stored.event,
                                              stored.committed_at})
                             .size();
      after = stored.sequence;
    }
  }
  *last = after;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> PublishPipeline::SaveSnapshot() {
  SnapshotRequest request;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      return absl::UnavailableError("the server is shutting down");
    }
    snapshot_requests_.push_back(&request);
  }
  // The writer answers every request, also when it stops (WriterLoop).
  request.done.WaitForNotification();
  return std::move(request.result);
}

absl::StatusOr<uint64_t> PublishPipeline::WriteSnapshot() {
  if (failed_) {
    return absl::UnavailableError(
        "the event store failed; no snapshot until restart");
  }
  const absl::Time start = absl::Now();
  EngineSnapshot snapshot;
  snapshot.sequence = last_sequence_;
  snapshot.alert_position = last_alert_position_;
  snapshot.state = engine_->SaveState();
  snapshot.created_at = clock_->Now();
  const absl::Time saved = absl::Now();
  DIPWIRE_RETURN_IF_ERROR(store_->PutSnapshot(snapshot));
  // Publishers waited for this: say how long, and for what.
  DIPWIRE_LOG(kInfo) << "engine snapshot at event " << snapshot.sequence << ": "
                     << snapshot.state.size() << " bytes, saved in "
                     << absl::ToDoubleMilliseconds(saved - start)
                     << " ms and stored in "
                     << absl::ToDoubleMilliseconds(absl::Now() - saved)
                     << " ms";
  return snapshot.sequence;
}

void PublishPipeline::AnswerSnapshotRequests() {
  std::vector<SnapshotRequest*> requests;
  {
    absl::MutexLock lock(&mu_);
    requests.swap(snapshot_requests_);
  }
  if (requests.empty()) return;
  const absl::StatusOr<uint64_t> result = WriteSnapshot();
  for (SnapshotRequest* request : requests) {
    request->result = result;
    request->done.Notify();  // last touch: the caller may return at once
  }
}

void PublishPipeline::Submit(v1::PublishRequest request, Callback done) {
  const auto events = static_cast<size_t>(request.events_size());
  const size_t bytes = request.ByteSizeLong();
  // Serialized once, here on the caller's thread rather than the writer's:
  // hashed for idempotency, and stored as it is when no default changes the
  // event (ApplyBatch).
  std::vector<std::string> payloads;
  std::vector<std::string> hashes;
  payloads.reserve(events);
  hashes.reserve(events);
  for (const v1::DiplomaticEvent& event : request.events()) {
    payloads.push_back(SerializeDeterministically(event));
    hashes.push_back(ContentHash(payloads.back()));
  }
  bool stopping = false;
  std::string full;
  {
    absl::MutexLock lock(&mu_);
    stopping = stopping_;
    const bool events_fit =
        queued_events_ + events <= options_.max_pending_events;
    const bool bytes_fit = queued_bytes_ + bytes <= options_.max_pending_bytes;
    if (!stopping && (queue_.empty() || (events_fit && bytes_fit))) {
      queued_events_ += events;
      queued_bytes_ += bytes;
      queue_.push_back(Pending{std::move(request), std::move(done), bytes,
                               std::move(payloads), std::move(hashes)});
      return;
    }
    if (!events_fit) {
      full = absl::StrCat(
          queued_events_,
          " events wait to be committed and "
          "this request adds ",
          events, "; at most ", options_.max_pending_events,
          " may wait (--max-pending-events=", options_.max_pending_events, ")");
    } else {
      full = absl::StrCat(
          queued_bytes_,
          " bytes of events wait to be "
          "committed and this request adds ",
          bytes, "; at most ", options_.max_pending_bytes,
          " may wait (--max-pending-bytes=", options_.max_pending_bytes, ")");
    }
  }
  // Answered outside the lock: `done` may take the caller's own locks.
  if (stopping) {
    std::move(done)(absl::UnavailableError(
        "the server is shutting down; nothing of this request was stored"));
    return;
  }
  std::move(done)(absl::UnavailableError(
      absl::StrCat("publish queue full: ", full,
                   "; nothing of this request was stored; retry after a "
                   "short backoff")));
}

void PublishPipeline::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (writer_.joinable()) writer_.join();
  {
    absl::MutexLock lock(&answer_mu_);
    writer_done_ = true;
  }
  if (answerer_.joinable()) answerer_.join();
}

void PublishPipeline::WriterLoop() {
  while (true) {
    // Between two groups the engine is at the head of the committed log.
    AnswerSnapshotRequests();
    std::deque<Pending> group;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](PublishPipeline* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) {
            return !p->queue_.empty() || p->stopping_ ||
                   !p->snapshot_requests_.empty();
          },
          this));
      if (!snapshot_requests_.empty()) continue;
      if (queue_.empty()) return;  // stopping and drained
      // Group commit: everything queued while the last commit was syncing.
      size_t events = 0;
      while (!queue_.empty() &&
             (group.empty() || events + queue_.front().request.events_size() <=
                                   options_.max_group_events)) {
        events += queue_.front().request.events_size();
        queued_events_ -= queue_.front().request.events_size();
        queued_bytes_ -= queue_.front().bytes;
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitGroup(std::move(group));
  }
}

void PublishPipeline::AfterGroupAnswered(absl::AnyInvocable<void() &&> flush) {
  if (group_flushes == nullptr) {
    std::move(flush)();
    return;
  }
  group_flushes->push_back(std::move(flush));
}

absl::Status PublishPipeline::CheckBatch(const Pending& pending,
                                         const KnownEvents& known) {
  const auto& batch = pending.request.events();
  for (int i = 0; i < batch.size(); ++i) {
    auto it = known.find(batch[i].event_id());
    if (it != known.end() &&
        it->second.content_hash != pending.hashes[static_cast<size_t>(i)]) {
      return absl::AlreadyExistsError(absl::StrCat(
          "events[", i, "] (event_id \"", batch[i].event_id(),
          "\"): event_id was already published with different content "
          "(sequence ",
          it->second.sequence,
          "); publish a changed report under a new event_id"));
    }
  }
  return absl::OkStatus();
}

v1::PublishResponse PublishPipeline::ApplyBatch(Pending* pending,
                                                absl::Time now,
                                                KnownEvents* known,
                                                GroupWrites* writes) {
  v1::PublishResponse response;
  auto& batch = *pending->request.mutable_events();
  for (int i = 0; i < batch.size(); ++i) {
    v1::DiplomaticEvent& event = batch[i];
    v1::PublishResult* result = response.add_results();
    result->set_event_id(event.event_id());
    if (auto it = known->find(event.event_id()); it != known->end()) {
      // Checked by CheckBatch: same content, so the original answer.
      result->set_outcome(v1::PublishResult::DUPLICATE);
      result->set_sequence(it->second.sequence);
      for (const std::string& id : it->second.alert_ids) {
        result->add_alert_ids(id);
      }
      continue;
    }
    StoredEvent stored;
    stored.sequence = ++last_sequence_;
    // The request is not read again: its event moves into the log.
    stored.event = std::move(event);
    if (stored.event.has_reported_at()) {
      // As submitted, so the bytes hashed are the bytes to store.
      stored.payload = std::move(pending->payloads[static_cast<size_t>(i)]);
    } else {
      *stored.event.mutable_reported_at() = ToProtoTime(now);
    }
    stored.content_hash = std::move(pending->hashes[static_cast<size_t>(i)]);
    stored.committed_at = now;
    for (v1::Alert& alert :
         engine_->Apply(LogEntry{stored.sequence, &stored.event, now})) {
      StoredAlert& entry = writes->alerts.emplace_back();
      entry.position = ++last_alert_position_;
      alert.set_cursor(EncodeCursor(entry.position));
      stored.alert_ids.push_back(alert.alert_id());
      entry.alert = std::move(alert);
      // Serialized once here; the store and every subscriber use the bytes.
      entry.payload = SerializeDeterministically(entry.alert);
    }
    result->set_outcome(v1::PublishResult::ACCEPTED);
    result->set_sequence(stored.sequence);
    for (const std::string& id : stored.alert_ids) result->add_alert_ids(id);
    (*known)[stored.event.event_id()] =
        EventRecord{stored.sequence, stored.content_hash, stored.alert_ids};
    writes->events.push_back(std::move(stored));
  }
  return response;
}

absl::Status PublishPipeline::Commit(GroupWrites* writes, absl::Time now,
                                     uint64_t first_sequence,
                                     uint64_t first_position) {
  if (writes->events.empty()) return absl::OkStatus();
  const ScopedTimer commit_timer(&GlobalMetrics().commit_seconds);
  absl::Status status = store_->Append(writes->events, writes->alerts);
  if (status.ok()) {
    rewind_point_.reset();  // the head moved past it
    last_committed_at_ = now;
    // Moved, not copied, into the entries the hub shares.
    std::vector<std::shared_ptr<const StoredAlert>> alerts;
    alerts.reserve(writes->alerts.size());
    for (StoredAlert& alert : writes->alerts) {
      alerts.push_back(std::make_shared<const StoredAlert>(std::move(alert)));
    }
    GlobalMetrics().CountAlerts(alerts);
    writes->released = hub_->Publish(std::move(alerts));
    return status;
  }
  DIPWIRE_LOG(kError) << "commit of " << writes->events.size()
                      << " events failed: " << status;
  // The engine has applied the group; put it back where the log is. (A
  // failed COMMIT may still have reached the disk: the log then holds the
  // group, and subscribers are given its alerts.) If even that fails, the
  // store is unusable: refuse events rather than derive from a wrong state.
  last_sequence_ = first_sequence;
  last_alert_position_ = first_position;
  absl::Status recovered = Rewind();
  if (recovered.ok()) recovered = PublishMissingAlerts();
  if (!recovered.ok()) {
    DIPWIRE_LOG(kError) << "cannot recover after a failed commit; refusing "
                           "events until restart: "
                        << recovered;
    failed_ = true;
  }
  return status.code() == absl::StatusCode::kUnavailable
             ? status
             : absl::InternalError(status.message());
}

absl::Status PublishPipeline::PublishMissingAlerts() {
  std::vector<StoredAlert> missing;
  while (hub_->head() < last_alert_position_) {
    missing.clear();
    DIPWIRE_RETURN_IF_ERROR(store_->ReadAlerts(
        hub_->head(), kReplayPage, static_cast<size_t>(-1), &missing));
    if (missing.empty()) {
      return absl::InternalError("the alert log is shorter than its head");
    }
    std::vector<std::shared_ptr<const StoredAlert>> alerts;
    alerts.reserve(missing.size());
    for (StoredAlert& alert : missing) {
      alerts.push_back(std::make_shared<const StoredAlert>(std::move(alert)));
    }
    hub_->Publish(std::move(alerts));
  }
  return absl::OkStatus();
}

void PublishPipeline::CommitGroup(std::deque<Pending> group) {
  // Every batch of the group gets `status`.
  const auto refuse_all = [this, &group](const absl::Status& status) {
    std::vector<absl::StatusOr<v1::PublishResponse>> answers(group.size(),
                                                             status);
    QueueAnswers(GroupAnswers{std::move(group), std::move(answers)});
  };
  if (failed_) {
    refuse_all(absl::UnavailableError(
        "the event store failed and this server takes no events until it "
        "is restarted; nothing of this request was stored"));
    return;
  }
  std::vector<std::string> ids;
  size_t group_events = 0;
  for (const Pending& pending : group) {
    group_events += static_cast<size_t>(pending.request.events_size());
  }
  ids.reserve(group_events);
  for (const Pending& pending : group) {
    for (const v1::DiplomaticEvent& event : pending.request.events()) {
      ids.push_back(event.event_id());
    }
  }
  KnownEvents known;
  if (const absl::Status status = store_->LookupEvents(ids, &known);
      !status.ok()) {
    refuse_all(status);
    return;
  }

  // Commit times are kept to the microsecond (as the store keeps them) and
  // never go backwards, so created_at is monotone along the alert log.
  const absl::Time now =
      std::max(absl::FromUnixMicros(absl::ToUnixMicros(clock_->Now())),
               last_committed_at_);
  const uint64_t first_sequence = last_sequence_;
  const uint64_t first_position = last_alert_position_;
  GroupWrites writes;
  std::vector<absl::StatusOr<v1::PublishResponse>> answers;
  answers.reserve(group.size());
  for (Pending& pending : group) {
    // A batch is atomic: find any conflict before sequencing any of it.
    const absl::Status checked = CheckBatch(pending, known);
    if (checked.ok()) {
      answers.emplace_back(ApplyBatch(&pending, now, &known, &writes));
    } else {
      answers.emplace_back(checked);
    }
  }
  const absl::Status committed =
      Commit(&writes, now, first_sequence, first_position);
  // On a failed commit every batch gets its error, also one that was
  // refused against an event of this group that is now not stored.
  if (!committed.ok()) {
    for (auto& answer : answers) answer = committed;
  }
  QueueAnswers(GroupAnswers{std::move(group), std::move(answers)});
  // `writes` (the group's events, the alerts the hub let go) is destroyed
  // here, on return, while the answer thread answers.
}

void PublishPipeline::QueueAnswers(GroupAnswers answers) {
  absl::MutexLock lock(&answer_mu_);
  answer_mu_.Await(absl::Condition(
      +[](PublishPipeline* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->answer_mu_) {
        return p->answer_queue_.size() < kMaxQueuedGroups;
      },
      this));
  answer_queue_.push_back(std::move(answers));
}

void PublishPipeline::AnswerLoop() {
  while (true) {
    // One group at a time, so that kMaxQueuedGroups bounds what waits.
    GroupAnswers group;
    {
      absl::MutexLock lock(&answer_mu_);
      answer_mu_.Await(absl::Condition(
          +[](PublishPipeline* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->answer_mu_) {
            return !p->answer_queue_.empty() || p->writer_done_;
          },
          this));
      if (answer_queue_.empty()) return;  // the writer is done, all answered
      group = std::move(answer_queue_.front());
      answer_queue_.pop_front();
    }
    std::vector<absl::AnyInvocable<void() &&>> flushes;
    group_flushes = &flushes;
    for (size_t b = 0; b < group.group.size(); ++b) {
      std::move(group.group[b].done)(std::move(group.answers[b]));
    }
    group_flushes = nullptr;
    for (auto& flush : flushes) std::move(flush)();
    // The answered requests are destroyed here, outside the lock.
  }
}

}  // namespace dipwire::server

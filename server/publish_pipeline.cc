#include "server/publish_pipeline.h"

#include <openssl/evp.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "server/cursor.h"

namespace dipwire::server {
namespace {

// Events read per page while replaying the log on start.
constexpr size_t kReplayPage = 1024;

// SHA-256 of the deterministic serialization of `event` as submitted: what
// idempotency compares (DESIGN.md: "compared as submitted, before any default
// is applied, so a retry is always a duplicate").
std::string ContentHash(const v1::DiplomaticEvent& event) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    event.SerializeToCodedStream(&coded);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), size);
}

google::protobuf::Timestamp ToProtoTime(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t micros = absl::ToUnixMicros(t);
  ts.set_seconds(micros / 1000000 - (micros % 1000000 < 0 ? 1 : 0));
  ts.set_nanos(static_cast<int32_t>(((micros % 1000000) + 1000000) % 1000000) *
               1000);
  return ts;
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
  pipeline->writer_ = std::thread([p = pipeline.get()] { p->WriterLoop(); });
  return pipeline;
}

PublishPipeline::~PublishPipeline() { Stop(); }

absl::Status PublishPipeline::Recover() {
  DIPWIRE_ASSIGN_OR_RETURN(const LogHead head, store_->Head());
  engine_ = std::make_unique<AlertEngine>();
  uint64_t derived_alerts = 0;
  uint64_t after = 0;
  std::vector<StoredEvent> page;
  while (after < head.last_sequence) {
    page.clear();
    DIPWIRE_RETURN_IF_ERROR(store_->ReadEvents(after, kReplayPage, &page));
    if (page.empty()) break;
    for (const StoredEvent& stored : page) {
      derived_alerts += engine_
                            ->Apply(LogEntry{stored.sequence, &stored.event,
                                             stored.committed_at})
                            .size();
      after = stored.sequence;
    }
  }
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
  last_sequence_ = head.last_sequence;
  last_alert_position_ = head.last_alert_position;
  last_committed_at_ = head.last_committed_at;
  replayed_events_ = after;
  return absl::OkStatus();
}

void PublishPipeline::Submit(v1::PublishRequest request, Callback done) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back(Pending{std::move(request), std::move(done)});
      return;
    }
  }
  std::move(done)(absl::UnavailableError(
      "the server is shutting down; nothing of this request was stored"));
}

void PublishPipeline::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (writer_.joinable()) writer_.join();
}

void PublishPipeline::WriterLoop() {
  while (true) {
    std::deque<Pending> group;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](PublishPipeline* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) {
            return !p->queue_.empty() || p->stopping_;
          },
          this));
      if (queue_.empty()) return;  // stopping and drained
      // Group commit: everything queued while the last commit was syncing.
      size_t events = 0;
      while (!queue_.empty() &&
             (group.empty() || events + queue_.front().request.events_size() <=
                                   options_.max_group_events)) {
        events += queue_.front().request.events_size();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitGroup(std::move(group));
  }
}

void PublishPipeline::CommitGroup(std::deque<Pending> group) {
  std::vector<absl::StatusOr<v1::PublishResponse>> answers;
  answers.reserve(group.size());

  std::vector<std::string> ids;
  for (const Pending& pending : group) {
    for (const v1::DiplomaticEvent& event : pending.request.events()) {
      ids.push_back(event.event_id());
    }
  }
  absl::flat_hash_map<std::string, EventRecord> known;
  absl::Status status = store_->LookupEvents(ids, &known);
  if (!status.ok()) {
    for (Pending& pending : group) std::move(pending.done)(status);
    return;
  }

  // Commit times are kept to the microsecond (as the store keeps them) and
  // never go backwards, so created_at is monotone along the alert log.
  const absl::Time now =
      std::max(absl::FromUnixMicros(absl::ToUnixMicros(clock_->Now())),
               last_committed_at_);
  const google::protobuf::Timestamp now_proto = ToProtoTime(now);
  const uint64_t first_sequence = last_sequence_;
  const uint64_t first_position = last_alert_position_;
  std::vector<StoredEvent> events;
  std::vector<std::shared_ptr<const StoredAlert>> alerts;
  std::vector<std::string> hashes;

  for (const Pending& pending : group) {
    const auto& batch = pending.request.events();
    // First pass: a batch is atomic, so find any conflict before storing.
    hashes.clear();
    status = absl::OkStatus();
    for (int i = 0; i < batch.size() && status.ok(); ++i) {
      hashes.push_back(ContentHash(batch[i]));
      auto it = known.find(batch[i].event_id());
      if (it != known.end() && it->second.content_hash != hashes.back()) {
        status = absl::AlreadyExistsError(absl::StrCat(
            "events[", i, "] (event_id \"", batch[i].event_id(),
            "\"): event_id was already published with different content "
            "(sequence ",
            it->second.sequence,
            "); publish a changed report under a new event_id"));
      }
    }
    if (!status.ok()) {
      answers.emplace_back(status);
      continue;
    }
    // Second pass: duplicates answer with the original; new events are
    // sequenced and derived.
    v1::PublishResponse response;
    for (int i = 0; i < batch.size(); ++i) {
      const v1::DiplomaticEvent& event = batch[i];
      v1::PublishResult* result = response.add_results();
      result->set_event_id(event.event_id());
      auto it = known.find(event.event_id());
      if (it != known.end()) {
        result->set_outcome(v1::PublishResult::DUPLICATE);
        result->set_sequence(it->second.sequence);
        for (const std::string& id : it->second.alert_ids) {
          result->add_alert_ids(id);
        }
        continue;
      }
      StoredEvent stored;
      stored.sequence = ++last_sequence_;
      stored.event = event;
      if (!stored.event.has_reported_at()) {
        *stored.event.mutable_reported_at() = now_proto;
      }
      stored.content_hash = hashes[static_cast<size_t>(i)];
      stored.committed_at = now;
      for (v1::Alert& alert :
           engine_->Apply(LogEntry{stored.sequence, &stored.event, now})) {
        auto entry = std::make_shared<StoredAlert>();
        entry->position = ++last_alert_position_;
        alert.set_cursor(EncodeCursor(entry->position));
        stored.alert_ids.push_back(alert.alert_id());
        entry->alert = std::move(alert);
        alerts.push_back(std::move(entry));
      }
      result->set_outcome(v1::PublishResult::ACCEPTED);
      result->set_sequence(stored.sequence);
      for (const std::string& id : stored.alert_ids) result->add_alert_ids(id);
      known[event.event_id()] =
          EventRecord{stored.sequence, stored.content_hash, stored.alert_ids};
      events.push_back(std::move(stored));
    }
    answers.emplace_back(std::move(response));
  }

  if (!events.empty()) {
    std::vector<StoredAlert> rows;
    rows.reserve(alerts.size());
    for (const auto& alert : alerts) rows.push_back(*alert);
    status = store_->Append(events, rows);
    if (status.ok()) {
      last_committed_at_ = now;
      hub_->Publish(std::move(alerts));
    } else {
      DIPWIRE_LOG(kError) << "commit of " << events.size()
                          << " events failed: " << status;
      // Nothing of the group is stored: put the engine back where the log
      // is. If even that fails, the store is unusable; stop taking events.
      last_sequence_ = first_sequence;
      last_alert_position_ = first_position;
      const absl::Status recovered = Recover();
      if (!recovered.ok()) {
        DIPWIRE_LOG(kError)
            << "cannot recover after a failed commit: " << recovered;
        absl::MutexLock lock(&mu_);
        stopping_ = true;
      }
      const absl::Status answer =
          status.code() == absl::StatusCode::kUnavailable
              ? status
              : absl::InternalError(status.message());
      for (auto& reply : answers) {
        if (reply.ok()) reply = answer;
      }
    }
  }
  for (size_t b = 0; b < group.size(); ++b) {
    std::move(group[b].done)(std::move(answers[b]));
  }
}

}  // namespace dipwire::server

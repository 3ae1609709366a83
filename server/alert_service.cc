#include "server/alert_service.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/event_validation.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/slice.h"
#include "server/cursor.h"
#include "server/filter.h"
#include "server/history.h"
#include "server/metrics.h"

namespace dipwire::server {
namespace {

using google::protobuf::util::TimeUtil;

constexpr absl::Duration kDefaultHeartbeat = absl::Seconds(15);
constexpr absl::Duration kMinHeartbeat = absl::Seconds(1);
// PublishStream requests being validated or committed at once per stream;
// beyond it the stream stops reading (flow control pushes back).
constexpr int kMaxStreamInFlight = 64;

// Finishes `reactor` with `status`, logging an INTERNAL detail that the
// client will not see.
void FinishUnary(grpc::ServerUnaryReactor* reactor, const absl::Status& status,
                 absl::string_view method) {
  if (status.code() == absl::StatusCode::kInternal) {
    DIPWIRE_LOG(kError) << method << ": " << status;
  }
  reactor->Finish(ToGrpcStatus(status));
}

// What a SubscribeRequest asks for, checked.
struct SubscribeSpec {
  Filter filter;
  StartSpec start;
  absl::Duration heartbeat = kDefaultHeartbeat;
};

constexpr size_t kMaxSubscriptionName = 64;
// ListDeadLetters returns the oldest this many (and the total).
constexpr size_t kMaxDeadLettersListed = 1000;

absl::Status NoSinks(absl::string_view name) {
  return absl::NotFoundError(
      absl::StrCat("sink: no sink named \"", absl::CHexEscape(name),
                   "\" (this server has no webhook sink configured)"));
}

// Durable subscription names: 1-64 of [a-z0-9._-]. Names of internal sinks
// start with '_', which this excludes. `field` names the request field.
absl::Status CheckSubscriptionName(absl::string_view name,
                                   absl::string_view field) {
  if (name.empty() || name.size() > kMaxSubscriptionName) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": a subscription name has 1 to ",
                     kMaxSubscriptionName, " characters, not ", name.size()));
  }
  const bool valid =
      name.front() != '_' && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '_' || c == '-';
      });
  if (!valid) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": \"", absl::CHexEscape(name),
        "\" is not a subscription name (1 to 64 of a-z, 0-9, '.', '_', '-'; "
        "not starting with '_')"));
  }
  return absl::OkStatus();
}

absl::StatusOr<SubscribeSpec> ParseSubscribeRequest(
    const v1::SubscribeRequest& request, const FilterLimits& filter_limits) {
  SubscribeSpec spec;
  if (!request.subscription().empty()) {
    const absl::Status name =
        CheckSubscriptionName(request.subscription(), "subscription");
    if (!name.ok()) return name;
    spec.start.subscription = request.subscription();
  }
  absl::StatusOr<Filter> filter =
      Filter::Compile(request.filter(), FilterTarget::kAlert, filter_limits);
  if (!filter.ok()) return filter.status();
  spec.filter = *std::move(filter);
  switch (request.start_case()) {
    case v1::SubscribeRequest::kPosition:
      switch (request.position()) {
        case v1::SubscribeRequest::POSITION_UNSPECIFIED:
        case v1::SubscribeRequest::LATEST:
          spec.start.kind = StartSpec::Kind::kLatest;
          break;
        case v1::SubscribeRequest::EARLIEST:
          spec.start.kind = StartSpec::Kind::kEarliest;
          break;
        default:
          return absl::InvalidArgumentError(absl::StrCat(
              "position: ", request.position(), " is not LATEST or EARLIEST"));
      }
      break;
    case v1::SubscribeRequest::kAfterCursor: {
      absl::StatusOr<uint64_t> position =
          DecodeCursor(request.after_cursor(), "after_cursor");
      if (!position.ok()) return position.status();
      spec.start.kind = StartSpec::Kind::kAfterPosition;
      spec.start.after_position = *position;
      break;
    }
    case v1::SubscribeRequest::kStartTime:
      if (request.start_time().seconds() < TimeUtil::kTimestampMinSeconds ||
          request.start_time().seconds() > TimeUtil::kTimestampMaxSeconds ||
          request.start_time().nanos() < 0 ||
          request.start_time().nanos() > 999999999) {
        return absl::InvalidArgumentError("start_time: not a valid timestamp");
      }
      spec.start.kind = StartSpec::Kind::kAtTime;
      spec.start.time = absl::FromUnixNanos(
          TimeUtil::TimestampToNanoseconds(request.start_time()));
      break;
    case v1::SubscribeRequest::START_NOT_SET:
      // A durable subscription without a start resumes after its last ack.
      spec.start.kind = spec.start.subscription.empty()
                            ? StartSpec::Kind::kLatest
                            : StartSpec::Kind::kResume;
      break;
  }
  if (request.has_heartbeat_interval()) {
    const auto& interval = request.heartbeat_interval();
    if (interval.seconds() < 0 || interval.nanos() < 0 ||
        interval.seconds() > TimeUtil::kDurationMaxSeconds) {
      return absl::InvalidArgumentError(
          "heartbeat_interval: not a valid duration");
    }
    // Seconds and nanos apart: DurationToNanoseconds overflows beyond about
    // 292 years.
    spec.heartbeat =
        std::max(kMinHeartbeat, absl::Seconds(interval.seconds()) +
                                    absl::Nanoseconds(interval.nanos()));
  }
  return spec;
}

// The same, from the raw request bytes of the raw Subscribe method.
absl::StatusOr<SubscribeSpec> ParseSubscribeRequest(
    const grpc::ByteBuffer& bytes, const FilterLimits& filter_limits) {
  v1::SubscribeRequest request;
  grpc::ByteBuffer buffer(bytes);  // Deserialize consumes its buffer
  if (!grpc::SerializationTraits<v1::SubscribeRequest>::Deserialize(&buffer,
                                                                    &request)
           .ok()) {
    return absl::InvalidArgumentError(
        "the request is not a serialized dipwire.v1.SubscribeRequest");
  }
  return ParseSubscribeRequest(request, filter_limits);
}

// A streaming call refused before it started (no token, or not the
// role): finishes at once with `status`.
template <typename Reactor>
class RejectedCall final : public Reactor {
 public:
  explicit RejectedCall(const absl::Status& status) {
    this->Finish(ToGrpcStatus(status));
  }
  void OnDone() override { delete this; }
};

// One Subscribe call: the gRPC side of an AlertHub stream. The hub decides
// what to write and when; this class only moves bytes and reports back.
class SubscribeReactor final
    : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
      public AlertHub::Stream {
 public:
  SubscribeReactor(AlertHub* hub, const grpc::ByteBuffer& request,
                   const FilterLimits& filter_limits)
      : hub_(hub) {
    // Send headers at once so the client sees the stream open even when no
    // alert comes for a while (STYLE.md section 7: never a buffer_hint on a
    // first write).
    StartSendInitialMetadata();
    absl::StatusOr<SubscribeSpec> spec =
        ParseSubscribeRequest(request, filter_limits);
    absl::StatusOr<AlertHub::StreamId> id =
        spec.ok() ? hub_->Attach(this, std::move(spec->filter), spec->start,
                                 spec->heartbeat)
                  : spec.status();
    if (!id.ok()) {
      Finish(ToGrpcStatus(id.status()));
      return;
    }
    id_ = *id;
    attached_ = true;
  }

  // AlertHub::Stream. Both are called on hub workers.
  void Send(std::string response) override {
    // The slice owns the bytes (no copy) and frees them when gRPC is done.
    auto* bytes = new std::string(std::move(response));
    grpc::Slice slice(
        bytes->data(), bytes->size(),
        [](void* owned) { delete static_cast<std::string*>(owned); }, bytes);
    write_ = grpc::ByteBuffer(&slice, 1);
    StartWrite(&write_);
  }
  void End(const absl::Status& status) override {
    Finish(ToGrpcStatus(status));
  }

  // grpc::ServerWriteReactor.
  void OnWriteDone(bool ok) override { hub_->WriteDone(id_, ok); }
  void OnCancel() override {
    if (attached_) hub_->Cancel(id_);
  }
  void OnDone() override {
    if (attached_) hub_->Detach(id_);
    delete this;
  }

 private:
  AlertHub* const hub_;
  // Set in the constructor. No reaction can run before the handler has
  // returned the reactor (a hub worker's early Send is held in gRPC's
  // backlog until then), so reactions always see them set.
  AlertHub::StreamId id_ = 0;
  bool attached_ = false;
  // The write in flight (at most one).
  grpc::ByteBuffer write_;
};

// One PublishStream call. Requests are validated and submitted to the
// pipeline as they arrive (up to kMaxStreamInFlight at once); responses are
// written one at a time, in request order, whatever order the answers come
// back in.
//
// Lifetime: Finish is called only when no read or write is in flight,
// every request has been answered and no answer is held (a Release the
// pipeline will run), so nothing (the pipeline's callbacks in particular)
// references the reactor once OnDone deletes it. Finish and
// StartWrite are called after mu_ is released.
class PublishStreamReactor final
    : public grpc::ServerBidiReactor<v1::PublishRequest, v1::PublishResponse> {
 public:
  // `event_limits` must outlive the reactor. `auth` and `caller` are null
  // without authentication; else each request is charged to the caller's
  // publish rate.
  // `open_streams` counts this stream, and OnDone takes it off.
  PublishStreamReactor(PublishPipeline* pipeline, Clock* clock,
                       const EventLimits& event_limits, Authenticator* auth,
                       const Authenticator::Caller* caller,
                       std::atomic<int>* open_streams)
      : pipeline_(pipeline),
        clock_(clock),
        event_limits_(event_limits),
        auth_(auth),
        caller_(caller),
        open_streams_(open_streams) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (ok) {
      uint64_t ticket = 0;
      {
        absl::MutexLock lock(&mu_);
        ticket = next_ticket_++;
        ++outstanding_;
      }
      const auto received = std::chrono::steady_clock::now();
      const int events = request_.events_size();
      absl::Status valid =
          ValidatePublishRequest(request_, clock_->Now(), event_limits_);
      if (valid.ok() && caller_ != nullptr) {
        valid = auth_->ChargePublish(*caller_, request_.events_size());
      }
      if (valid.ok()) {
        pipeline_->Submit(
            std::move(request_),
            [this, ticket, events,
             received](absl::StatusOr<v1::PublishResponse> result) {
              GlobalMetrics().RecordPublish(events, result, received);
              if (!result.ok() && caller_ != nullptr) {
                Authenticator::RefundPublish(*caller_, events);
              }
              Answer(ticket, std::move(result));
            });
      } else {
        GlobalMetrics().RecordPublish(events, valid, received);
        Answer(ticket, valid);
      }
      request_.Clear();
    }
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      reading_ = false;
      if (!ok) reads_done_ = true;
      actions = NextActionsLocked();
    }
    Perform(actions);
  }

  void OnWriteDone(bool ok) override {
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      ready_.erase(ready_.begin());
      --outstanding_;
      if (!ok) broken_ = true;
      actions = NextActionsLocked();
    }
    Perform(actions);
  }

  void OnCancel() override {
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      broken_ = true;
      actions = NextActionsLocked();
    }
    Perform(actions);
  }

  void OnDone() override {
    open_streams_->fetch_sub(1);
    delete this;
  }

 private:
  // What to do once mu_ is released.
  struct Actions {
    bool read = false;
    const v1::PublishResponse* write = nullptr;
    // The answer after `write` is ready too (see NextActionsLocked).
    bool more_ready = false;
    bool finish = false;
    grpc::Status status;
  };

  // Records the answer to request `ticket`. Called from the pipeline's
  // answer thread, or from OnReadDone for a request that failed validation.
  void Answer(uint64_t ticket, absl::StatusOr<v1::PublishResponse> result) {
    v1::PublishResponse response;
    if (result.ok()) {
      response = *std::move(result);
    } else {
      if (result.status().code() == absl::StatusCode::kInternal) {
        DIPWIRE_LOG(kError) << "PublishStream: " << result.status();
      }
      const grpc::Status status = ToGrpcStatus(result.status());
      response.mutable_error()->set_code(status.error_code());
      response.mutable_error()->set_message(status.error_message());
    }
    Actions actions;
    bool hold = false;
    {
      absl::MutexLock lock(&mu_);
      ready_.emplace(ticket, std::move(response));
      // The first answer of a group commit holds the writes back until the
      // pipeline has given all the group's answers, so that this stream's
      // answers of the group leave together (see NextActionsLocked).
      hold = !holding_;
      holding_ = true;
      actions = NextActionsLocked();
    }
    Perform(actions);
    if (hold) PublishPipeline::AfterGroupAnswered([this] { Release(); });
  }

  // Ends the hold Answer started.
  void Release() {
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      holding_ = false;
      actions = NextActionsLocked();
    }
    Perform(actions);
  }

  Actions NextActionsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    mu_.AssertHeld();
    Actions actions;
    if (finished_) return actions;
    // Answers nobody will read count as written.
    while (broken_ && !writing_ && !ready_.empty() &&
           ready_.begin()->first == next_write_) {
      ready_.erase(ready_.begin());
      ++next_write_;
      --outstanding_;
    }
    if (!writing_ && !holding_ && !broken_ && !ready_.empty() &&
        ready_.begin()->first == next_write_) {
      // std::map keeps the element's address stable until it is erased in
      // OnWriteDone.
      ++next_write_;
      writing_ = true;
      actions.write = &ready_.begin()->second;
      // When the next answer is ready behind this one (a group commit
      // answers several requests of a stream at once), gRPC may hold this
      // one back and send both with one write to the socket. Never the
      // first message, which carries the response headers.
      const auto behind = std::next(ready_.begin());
      actions.more_ready = next_write_ > 1 && behind != ready_.end() &&
                           behind->first == next_write_;
    }
    if (!reading_ && !reads_done_ && !broken_ &&
        outstanding_ < kMaxStreamInFlight) {
      reading_ = true;
      actions.read = true;
    }
    // Not while holding: Release has yet to run.
    if (!reading_ && !writing_ && !holding_ && outstanding_ == 0 &&
        (reads_done_ || broken_)) {
      finished_ = true;
      actions.finish = true;
      actions.status = broken_ ? grpc::Status::CANCELLED : grpc::Status::OK;
    }
    return actions;
  }

  void Perform(const Actions& actions) {
    if (actions.write != nullptr) {
      StartWrite(actions.write, actions.more_ready
                                    ? grpc::WriteOptions().set_buffer_hint()
                                    : grpc::WriteOptions());
    }
    if (actions.read) StartRead(&request_);
    // Last: OnDone (and the deletion of this) may follow.
    if (actions.finish) Finish(actions.status);
  }

  PublishPipeline* const pipeline_;
  Clock* const clock_;
  const EventLimits& event_limits_;
  Authenticator* const auth_;
  const Authenticator::Caller* const caller_;
  std::atomic<int>* const open_streams_;
  // Owned by the read side: at most one read is in flight.
  v1::PublishRequest request_;

  absl::Mutex mu_;
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_write_ ABSL_GUARDED_BY(mu_) = 0;
  // Requests read whose answer is not yet written (or dropped).
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, v1::PublishResponse> ready_ ABSL_GUARDED_BY(mu_);
  bool reading_ ABSL_GUARDED_BY(mu_) = true;  // the constructor's read
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // Between an Answer and its Release: no write starts.
  bool holding_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

AlertServiceImpl::AlertServiceImpl(PublishPipeline* pipeline, AlertHub* hub,
                                   EventStore* store, Executor* executor,
                                   Clock* clock, const Limits& limits,
                                   WebhookSinks* sinks, Authenticator* auth)
    : pipeline_(pipeline),
      hub_(hub),
      store_(store),
      executor_(executor),
      clock_(clock),
      limits_(limits),
      sinks_(sinks),
      auth_(auth) {}

// Authentication is an explicit check at the start of each handler rather
// than an AuthMetadataProcessor: gRPC runs a processor only on secure
// credentials (TLS, or local credentials, which refuse non-loopback peers),
// while tokens must work the same over TLS, plaintext loopback and
// --insecure-listen behind a proxy. A check per handler also names the role
// each method needs in one place (the handlers below), and leaves the
// health service, which must answer without a token, untouched. The token
// is read from the metadata the client sent with the call, available when
// the handler runs.
absl::StatusOr<const Authenticator::Caller*> AlertServiceImpl::Authorize(
    const grpc::CallbackServerContext& context, Role role) const {
  if (auth_ == nullptr) return nullptr;
  const auto& metadata = context.client_metadata();
  const auto found = metadata.find("authorization");
  const absl::string_view authorization =
      found == metadata.end()
          ? absl::string_view()
          : absl::string_view(found->second.data(), found->second.size());
  return auth_->Authorize(authorization, role);
}

bool AlertServiceImpl::Denied(const grpc::CallbackServerContext& context,
                              Role role, grpc::ServerUnaryReactor* reactor,
                              absl::string_view method) const {
  absl::StatusOr<const Authenticator::Caller*> caller =
      Authorize(context, role);
  if (caller.ok()) return false;
  FinishUnary(reactor, caller.status(), method);
  return true;
}

grpc::ServerUnaryReactor* AlertServiceImpl::Publish(
    grpc::CallbackServerContext* context, const v1::PublishRequest* request,
    v1::PublishResponse* response) {
  const auto received = std::chrono::steady_clock::now();
  const int events = request->events_size();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<const Authenticator::Caller*> caller =
      Authorize(*context, Role::kPublish);
  absl::Status valid = caller.status();
  if (valid.ok()) {
    valid = ValidatePublishRequest(*request, clock_->Now(), limits_.events);
  }
  if (valid.ok() && *caller != nullptr) {
    valid = auth_->ChargePublish(**caller, request->events_size());
  }
  if (!valid.ok()) {
    GlobalMetrics().RecordPublish(events, valid, received);
    FinishUnary(reactor, valid, "Publish");
    return reactor;
  }
  pipeline_->Submit(*request,
                    [reactor, response, events, received, charged = *caller](
                        absl::StatusOr<v1::PublishResponse> result) {
                      GlobalMetrics().RecordPublish(events, result, received);
                      if (!result.ok() && charged != nullptr) {
                        Authenticator::RefundPublish(*charged, events);
                      }
                      const absl::Status status = result.status();
                      if (status.ok()) *response = *std::move(result);
                      FinishUnary(reactor, status, "Publish");
                    });
  return reactor;
}

grpc::ServerBidiReactor<v1::PublishRequest, v1::PublishResponse>*
AlertServiceImpl::PublishStream(grpc::CallbackServerContext* context) {
  absl::StatusOr<const Authenticator::Caller*> caller =
      Authorize(*context, Role::kPublish);
  if (!caller.ok()) {
    return new RejectedCall<
        grpc::ServerBidiReactor<v1::PublishRequest, v1::PublishResponse>>(
        caller.status());
  }
  if (publish_streams_.fetch_add(1) >= limits_.max_publish_streams) {
    publish_streams_.fetch_sub(1);
    return new RejectedCall<
        grpc::ServerBidiReactor<v1::PublishRequest, v1::PublishResponse>>(
        absl::ResourceExhaustedError(absl::StrCat(
            "too many concurrent publish streams: this server serves at most ",
            limits_.max_publish_streams,
            " PublishStream streams at once (--max-publish-streams=",
            limits_.max_publish_streams,
            "); retry later, or publish over the streams already open")));
  }
  return new PublishStreamReactor(pipeline_, clock_, limits_.events, auth_,
                                  *caller, &publish_streams_);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* AlertServiceImpl::Subscribe(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  absl::StatusOr<const Authenticator::Caller*> caller =
      Authorize(*context, Role::kSubscribe);
  if (!caller.ok()) {
    return new RejectedCall<grpc::ServerWriteReactor<grpc::ByteBuffer>>(
        caller.status());
  }
  return new SubscribeReactor(hub_, *request, limits_.filter);
}

grpc::ServerUnaryReactor* AlertServiceImpl::Acknowledge(
    grpc::CallbackServerContext* context, const v1::AcknowledgeRequest* request,
    v1::AcknowledgeResponse* /*response*/) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*context, Role::kSubscribe, reactor, "Acknowledge"))
    return reactor;
  absl::Status valid =
      CheckSubscriptionName(request->subscription(), "subscription");
  absl::StatusOr<uint64_t> position =
      valid.ok() ? DecodeCursor(request->cursor(), "cursor") : valid;
  if (position.ok() && *position > hub_->head()) {
    position = absl::InvalidArgumentError(absl::StrCat(
        "cursor: the cursor is ahead of the newest alert (",
        hub_->head() == 0
            ? "the log has no alert yet"
            : absl::StrCat("head cursor ", EncodeCursor(hub_->head())),
        ")"));
  }
  if (!position.ok()) {
    FinishUnary(reactor, position.status(), "Acknowledge");
    return reactor;
  }
  // The write goes to SQLite: off the reaction thread.
  executor_->Schedule([this, reactor, request, position = *position] {
    FinishUnary(reactor,
                store_->AdvanceSubscription(request->subscription(), position,
                                            clock_->Now()),
                "Acknowledge");
  });
  return reactor;
}

grpc::ServerUnaryReactor* AlertServiceImpl::ListSubscriptions(
    grpc::CallbackServerContext* context,
    const v1::ListSubscriptionsRequest* /*request*/,
    v1::ListSubscriptionsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*context, Role::kSubscribe, reactor, "ListSubscriptions"))
    return reactor;
  executor_->Schedule([this, reactor, response] {
    absl::StatusOr<std::vector<SubscriptionRecord>> records =
        store_->ListSubscriptions();
    if (records.ok()) {
      for (const SubscriptionRecord& record : *records) {
        // Internal ones (webhook sinks, "_sink.NAME") are not the client's.
        if (!record.name.empty() && record.name.front() == '_') continue;
        v1::Subscription* subscription = response->add_subscriptions();
        subscription->set_name(record.name);
        if (record.position > 0) {
          subscription->set_cursor(EncodeCursor(record.position));
        }
        *subscription->mutable_updated_at() = TimeUtil::NanosecondsToTimestamp(
            absl::ToUnixNanos(record.updated_at));
      }
    }
    FinishUnary(reactor, records.status(), "ListSubscriptions");
  });
  return reactor;
}

grpc::ServerUnaryReactor* AlertServiceImpl::DeleteSubscription(
    grpc::CallbackServerContext* context,
    const v1::DeleteSubscriptionRequest* request,
    v1::DeleteSubscriptionResponse* /*response*/) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*context, Role::kAdmin, reactor, "DeleteSubscription"))
    return reactor;
  const absl::Status valid = CheckSubscriptionName(request->name(), "name");
  if (!valid.ok()) {
    FinishUnary(reactor, valid, "DeleteSubscription");
    return reactor;
  }
  executor_->Schedule([this, reactor, request] {
    // Its open stream ends too: a deleted subscription delivers no more.
    FinishUnary(reactor, hub_->DeleteSubscription(request->name()),
                "DeleteSubscription");
  });
  return reactor;
}

grpc::ServerUnaryReactor* AlertServiceImpl::ListAlerts(
    grpc::CallbackServerContext* context, const v1::ListAlertsRequest* request,
    v1::ListAlertsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*context, Role::kSubscribe, reactor, "ListAlerts")) return reactor;
  executor_->Schedule([this, reactor, request, response] {
    absl::StatusOr<v1::ListAlertsResponse> result =
        server::ListAlerts(*store_, *request, limits_.filter);
    const absl::Status status = result.status();
    if (status.ok()) *response = *std::move(result);
    FinishUnary(reactor, status, "ListAlerts");
  });
  return reactor;
}

grpc::ServerUnaryReactor* AlertServiceImpl::ListEvents(
    grpc::CallbackServerContext* context, const v1::ListEventsRequest* request,
    v1::ListEventsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*context, Role::kSubscribe, reactor, "ListEvents")) return reactor;
  executor_->Schedule([this, reactor, request, response] {
    absl::StatusOr<v1::ListEventsResponse> result =
        server::ListEvents(*store_, *request, limits_.filter);
    const absl::Status status = result.status();
    if (status.ok()) *response = *std::move(result);
    FinishUnary(reactor, status, "ListEvents");
  });
  return reactor;
}

grpc::ServerUnaryReactor* AlertServiceImpl::ListSinks(
    grpc::CallbackServerContext* context,
    const v1::ListSinksRequest* /*request*/, v1::ListSinksResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*context, Role::kAdmin, reactor, "ListSinks")) return reactor;
  if (sinks_ == nullptr) {
    FinishUnary(reactor, absl::OkStatus(), "ListSinks");
    return reactor;
  }
  executor_->Schedule([this, reactor, response] {
    absl::StatusOr<std::vector<v1::Sink>> sinks = sinks_->List();
    if (sinks.ok()) {
      for (v1::Sink& sink : *sinks) *response->add_sinks() = std::move(sink);
    }
    FinishUnary(reactor, sinks.status(), "ListSinks");
  });
  return reactor;
}

grpc::ServerUnaryReactor* AlertServiceImpl::ListDeadLetters(
    grpc::CallbackServerContext* context,
    const v1::ListDeadLettersRequest* request,
    v1::ListDeadLettersResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*context, Role::kAdmin, reactor, "ListDeadLetters"))
    return reactor;
  if (sinks_ == nullptr) {
    FinishUnary(reactor, NoSinks(request->sink()), "ListDeadLetters");
    return reactor;
  }
  executor_->Schedule([this, reactor, request, response] {
    absl::StatusOr<v1::ListDeadLettersResponse> listed =
        sinks_->ListDeadLetters(request->sink(), kMaxDeadLettersListed);
    const absl::Status status = listed.status();
    if (status.ok()) *response = *std::move(listed);
    FinishUnary(reactor, status, "ListDeadLetters");
  });
  return reactor;
}

grpc::ServerUnaryReactor* AlertServiceImpl::RedeliverDeadLetters(
    grpc::CallbackServerContext* context,
    const v1::RedeliverDeadLettersRequest* request,
    v1::RedeliverDeadLettersResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*context, Role::kAdmin, reactor, "RedeliverDeadLetters"))
    return reactor;
  if (sinks_ == nullptr) {
    FinishUnary(reactor, NoSinks(request->sink()), "RedeliverDeadLetters");
    return reactor;
  }
  executor_->Schedule([this, reactor, request, response] {
    absl::StatusOr<int64_t> requeued = sinks_->Redeliver(request->sink());
    if (requeued.ok()) response->set_requeued(*requeued);
    FinishUnary(reactor, requeued.status(), "RedeliverDeadLetters");
  });
  return reactor;
}

}  // namespace dipwire::server

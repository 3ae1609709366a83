#ifndef DIPWIRE_SERVER_ALERT_SERVICE_H_
#define DIPWIRE_SERVER_ALERT_SERVICE_H_

#include <atomic>

#include "common/clock.h"
#include "dipwire/v1/alerts.grpc.pb.h"
#include "server/alert_hub.h"
#include "server/auth.h"
#include "server/event_store.h"
#include "server/executor.h"
#include "server/limits.h"
#include "server/publish_pipeline.h"
#include "server/webhook_sinks.h"

namespace dipwire::server {

// The gRPC adapter of dipwire.v1.AlertService, on the callback API: no
// thread per call or per subscriber. Handlers are thin: validate, hand the
// request to the domain (PublishPipeline, AlertHub, the history listings on
// `executor`), and finish with the converted result. Nothing here blocks a
// reaction: store reads run on the executor or the hub's workers. Requests
// are checked against `limits`' event and filter limits; the stream and
// queue limits are the hub's and the pipeline's own.
//
// Does not take ownership of its pointer arguments, which must outlive it
// (and the grpc::Server it is registered with); copies `limits`. Safe for
// concurrent use.
//
// Subscribe is registered raw (its responses are bytes): the hub builds each
// response from alerts serialized once for all subscribers (AlertHub,
// StoredAlert::payload), so gRPC must not serialize it again.
class AlertServiceImpl final
    : public v1::AlertService::WithRawCallbackMethod_Subscribe<
          v1::AlertService::CallbackService> {
 public:
  // `sinks` may be null: the server then has no webhook sink (ListSinks is
  // empty, the dead-letter calls are NOT_FOUND). `auth` may be null: calls
  // then need no token; otherwise each call needs a token with the role
  // of DESIGN.md's "Roles" table (UNAUTHENTICATED, PERMISSION_DENIED), and
  // publishing is charged to the token's rate limit (RESOURCE_EXHAUSTED).
  AlertServiceImpl(PublishPipeline* pipeline, AlertHub* hub, EventStore* store,
                   Executor* executor, Clock* clock, const Limits& limits,
                   WebhookSinks* sinks = nullptr,
                   Authenticator* auth = nullptr);

  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* context,
                                    const v1::PublishRequest* request,
                                    v1::PublishResponse* response) override;
  grpc::ServerBidiReactor<v1::PublishRequest, v1::PublishResponse>*
  PublishStream(grpc::CallbackServerContext* context) override;
  // A v1::SubscribeRequest in, serialized v1::SubscribeResponses out.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Subscribe(
      grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* Acknowledge(
      grpc::CallbackServerContext* context,
      const v1::AcknowledgeRequest* request,
      v1::AcknowledgeResponse* response) override;
  grpc::ServerUnaryReactor* ListAlerts(
      grpc::CallbackServerContext* context,
      const v1::ListAlertsRequest* request,
      v1::ListAlertsResponse* response) override;
  grpc::ServerUnaryReactor* ListEvents(
      grpc::CallbackServerContext* context,
      const v1::ListEventsRequest* request,
      v1::ListEventsResponse* response) override;
  grpc::ServerUnaryReactor* ListSubscriptions(
      grpc::CallbackServerContext* context,
      const v1::ListSubscriptionsRequest* request,
      v1::ListSubscriptionsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteSubscription(
      grpc::CallbackServerContext* context,
      const v1::DeleteSubscriptionRequest* request,
      v1::DeleteSubscriptionResponse* response) override;
  grpc::ServerUnaryReactor* ListSinks(grpc::CallbackServerContext* context,
                                      const v1::ListSinksRequest* request,
                                      v1::ListSinksResponse* response) override;
  grpc::ServerUnaryReactor* ListDeadLetters(
      grpc::CallbackServerContext* context,
      const v1::ListDeadLettersRequest* request,
      v1::ListDeadLettersResponse* response) override;
  grpc::ServerUnaryReactor* RedeliverDeadLetters(
      grpc::CallbackServerContext* context,
      const v1::RedeliverDeadLettersRequest* request,
      v1::RedeliverDeadLettersResponse* response) override;

  // PublishStream calls open now, for /metrics.
  [[nodiscard]] int publish_streams() const { return publish_streams_.load(); }

 private:
  // The caller of `context` if it holds `role`; null when auth_ is null.
  absl::StatusOr<const Authenticator::Caller*> Authorize(
      const grpc::CallbackServerContext& context, Role role) const;
  // Finishes `reactor` and returns true when the caller lacks `role`.
  bool Denied(const grpc::CallbackServerContext& context, Role role,
              grpc::ServerUnaryReactor* reactor,
              absl::string_view method) const;

  PublishPipeline* const pipeline_;
  AlertHub* const hub_;
  EventStore* const store_;
  Executor* const executor_;
  Clock* const clock_;
  const Limits limits_;
  WebhookSinks* const sinks_;
  Authenticator* const auth_;
  // PublishStream calls open now (at most limits_.max_publish_streams).
  std::atomic<int> publish_streams_{0};
};

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_ALERT_SERVICE_H_

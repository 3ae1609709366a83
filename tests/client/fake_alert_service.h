#ifndef DIPWIRE_TESTS_CLIENT_FAKE_ALERT_SERVICE_H_
#define DIPWIRE_TESTS_CLIENT_FAKE_ALERT_SERVICE_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/grpc_status.h"
#include "dipwire/v1/alerts.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace dipwire::testing {

// A scripted, in-process AlertService for the client library's and the
// CLI's tests: it records what the client sends and answers what the test
// set up, so that the client side can be tested without the real server
// (tests/e2e/ covers the two together).
//
//   Publish     An event whose event_id starts with "bad" fails the whole
//               request with INVALID_ARGUMENT naming "events[i]"; otherwise
//               each event is ACCEPTED with the next sequence (DUPLICATE
//               with sequence 1 when its event_id was published before), and
//               a trade event gets the alert id "al-<sequence>-0".
//   ListAlerts, ListEvents
//               Page through set_alerts / set_events, honouring page_size
//               (capped by set_max_page_size); the page token is the offset.
//               ListAlerts with the filter "slow" never answers: it ends
//               only when the client cancels it (or its deadline passes).
//   Subscribe   Writes set_subscribe_script's `before` responses, waits for
//               Release(), writes `after`, then finishes with `final_status`
//               — or, when that is CANCELLED, waits for the client to cancel.
//
// Set up before the first call; thread-safe afterwards. The server using it
// must be shut down before it is destroyed (declare the FakeServer after
// it).
class FakeAlertService final : public v1::AlertService::CallbackService {
 public:
  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* context,
                                    const v1::PublishRequest* request,
                                    v1::PublishResponse* response) override
      ABSL_LOCKS_EXCLUDED(mu_) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpcStatus(DoPublish(*request, response)));
    return reactor;
  }

  grpc::ServerUnaryReactor* ListAlerts(
      grpc::CallbackServerContext* context,
      const v1::ListAlertsRequest* request,
      v1::ListAlertsResponse* response) override ABSL_LOCKS_EXCLUDED(mu_) {
    if (request->filter() == "slow") return new NeverAnswers(this);
    {
      absl::MutexLock lock(&mu_);
      list_page_sizes_.push_back(request->page_size());
      const auto [begin, end] = PageLocked(
          request->page_size(), request->page_token(), alerts_.size());
      for (size_t i = begin; i < end; ++i) *response->add_alerts() = alerts_[i];
      if (end < alerts_.size()) {
        response->set_next_page_token(absl::StrCat(end));
      }
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* ListEvents(
      grpc::CallbackServerContext* context,
      const v1::ListEventsRequest* request,
      v1::ListEventsResponse* response) override ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      list_page_sizes_.push_back(request->page_size());
      const auto [begin, end] = PageLocked(
          request->page_size(), request->page_token(), events_.size());
      for (size_t i = begin; i < end; ++i) {
        *response->add_events() = events_[i];
        response->add_sequences(i + 1);
      }
      if (end < events_.size()) {
        response->set_next_page_token(absl::StrCat(end));
      }
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerWriteReactor<v1::SubscribeResponse>* Subscribe(
      grpc::CallbackServerContext* /*context*/,
      const v1::SubscribeRequest* request) override ABSL_LOCKS_EXCLUDED(mu_) {
    ScriptedStream* stream;
    {
      absl::MutexLock lock(&mu_);
      subscribe_requests_.push_back(*request);
      stream = new ScriptedStream(this, script_before_, script_after_,
                                  script_final_status_);
      if (!subscribed_.HasBeenNotified()) subscribed_.Notify();
    }
    stream->Step();
    return stream;
  }

  // Setup.
  void set_alerts(std::vector<v1::Alert> alerts) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    alerts_ = std::move(alerts);
  }
  void set_events(std::vector<v1::DiplomaticEvent> events)
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    events_ = std::move(events);
  }
  void set_max_page_size(int32_t n) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    max_page_size_ = n;
  }
  void set_subscribe_script(std::vector<v1::SubscribeResponse> before,
                            std::vector<v1::SubscribeResponse> after,
                            absl::Status final_status)
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    script_before_ = std::move(before);
    script_after_ = std::move(after);
    script_final_status_ = std::move(final_status);
  }

  // Lets every Subscribe call, running or future, go on past its `before`
  // responses.
  void Release() ABSL_LOCKS_EXCLUDED(mu_);

  // Notified when the first Subscribe call arrives.
  absl::Notification& subscribed() { return subscribed_; }
  // Notified when a call saw the client cancel it.
  absl::Notification& saw_cancellation() { return saw_cancellation_; }

  // What the client sent.
  std::vector<v1::PublishRequest> publish_requests() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return publish_requests_;
  }
  std::vector<v1::SubscribeRequest> subscribe_requests()
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return subscribe_requests_;
  }
  std::vector<int32_t> list_page_sizes() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return list_page_sizes_;
  }

 private:
  // Subscribe's reactor. Reference counted: one reference for gRPC (dropped
  // in OnDone) and one while it waits in the service's `waiters_`, so that
  // Release() can resume it while gRPC may be finishing it. No lock is held
  // while it starts a write or finishes (either may run OnDone inline).
  class ScriptedStream final
      : public grpc::ServerWriteReactor<v1::SubscribeResponse> {
   public:
    ScriptedStream(FakeAlertService* service,
                   std::vector<v1::SubscribeResponse> before,
                   std::vector<v1::SubscribeResponse> after,
                   absl::Status final_status)
        : service_(service), final_status_(std::move(final_status)) {
      script_ = std::move(before);
      released_from_ = script_.size();
      script_.insert(script_.end(), after.begin(), after.end());
    }

    // Starts the next write or finishes, if it is time to.
    void Step() ABSL_LOCKS_EXCLUDED(mu_) {
      const v1::SubscribeResponse* write = nullptr;
      absl::Status finish;
      {
        absl::MutexLock lock(&mu_);
        if (finished_ || writing_) return;
        if (cancelled_) {
          finish = absl::CancelledError("cancelled");
          finished_ = true;
        } else {
          const bool may_go_on = next_ < released_from_ ||
                                 service_->ReleasedOrWait(this, &waiting_);
          if (!may_go_on) return;  // Until Release() or a cancellation.
          if (next_ < script_.size()) {
            write = &script_[next_++];
            writing_ = true;
          } else if (final_status_.code() == absl::StatusCode::kCancelled) {
            return;  // Until the client cancels.
          } else {
            finish = final_status_;
            finished_ = true;
          }
        }
      }
      // Nothing may touch `this` after these: OnDone may run inline.
      if (write != nullptr) {
        StartWrite(write);
      } else {
        Finish(ToGrpcStatusVerbatim(finish));
      }
    }

    void Ref() { refs_.fetch_add(1); }
    void Unref() {
      if (refs_.fetch_sub(1) == 1) delete this;
    }

    void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
      {
        absl::MutexLock lock(&mu_);
        writing_ = false;
        if (!ok) cancelled_ = true;
      }
      Step();
    }

    void OnCancel() override ABSL_LOCKS_EXCLUDED(mu_) {
      service_->NoteCancellation();
      {
        absl::MutexLock lock(&mu_);
        cancelled_ = true;
      }
      Step();
    }

    void OnDone() override {
      service_->Forget(this);
      Unref();
    }

   private:
    FakeAlertService* const service_;
    std::vector<v1::SubscribeResponse> script_;
    size_t released_from_ = 0;  // script_[released_from_..] need Release().
    const absl::Status final_status_;
    std::atomic<int> refs_{1};

    absl::Mutex mu_;
    size_t next_ ABSL_GUARDED_BY(mu_) = 0;
    bool writing_ ABSL_GUARDED_BY(mu_) = false;
    bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
    bool finished_ ABSL_GUARDED_BY(mu_) = false;
    bool waiting_ ABSL_GUARDED_BY(mu_) = false;  // Listed in waiters_.
  };

  // ListAlerts("slow"): answers only the client's cancellation.
  class NeverAnswers final : public grpc::ServerUnaryReactor {
   public:
    explicit NeverAnswers(FakeAlertService* service) : service_(service) {}
    void OnCancel() override {
      service_->NoteCancellation();
      Finish(ToGrpcStatus(absl::CancelledError("cancelled")));
    }
    void OnDone() override { delete this; }

   private:
    FakeAlertService* const service_;
  };

  absl::Status DoPublish(const v1::PublishRequest& request,
                         v1::PublishResponse* response)
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    publish_requests_.push_back(request);
    for (int i = 0; i < request.events_size(); ++i) {
      const std::string& id = request.events(i).event_id();
      if (absl::StartsWith(id, "bad")) {
        return absl::InvalidArgumentError(
            absl::StrCat("events[", i, "] (event_id \"", id, "\"): events[", i,
                         "].trade.year: 1800 is not in 1900..2100"));
      }
    }
    for (const v1::DiplomaticEvent& event : request.events()) {
      v1::PublishResult* result = response->add_results();
      result->set_event_id(event.event_id());
      if (!published_ids_.insert(event.event_id()).second) {
        result->set_outcome(v1::PublishResult::DUPLICATE);
        result->set_sequence(1);
        continue;
      }
      result->set_outcome(v1::PublishResult::ACCEPTED);
      result->set_sequence(++sequence_);
      if (event.has_trade()) {
        result->add_alert_ids(absl::StrCat("al-", sequence_, "-0"));
      }
    }
    return absl::OkStatus();
  }

  std::pair<size_t, size_t> PageLocked(int32_t page_size,
                                       const std::string& token, size_t total)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    mu_.AssertHeld();
    size_t begin = 0;
    if (!token.empty() && !absl::SimpleAtoi(token, &begin)) begin = total;
    size_t size = page_size > 0 ? static_cast<size_t>(page_size) : 100;
    size = std::min(size, static_cast<size_t>(max_page_size_));
    begin = std::min(begin, total);
    return {begin, std::min(total, begin + size)};
  }

  void NoteCancellation() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (!saw_cancellation_.HasBeenNotified()) saw_cancellation_.Notify();
  }

  // True once Release() was called; otherwise lists `stream` (once, with a
  // reference) for Release() to resume.
  bool ReleasedOrWait(ScriptedStream* stream, bool* waiting)
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (released_) return true;
    if (!*waiting) {
      *waiting = true;
      stream->Ref();
      waiters_.push_back(stream);
    }
    return false;
  }

  void Forget(ScriptedStream* stream) ABSL_LOCKS_EXCLUDED(mu_) {
    bool listed = false;
    {
      absl::MutexLock lock(&mu_);
      auto it = std::find(waiters_.begin(), waiters_.end(), stream);
      if (it != waiters_.end()) {
        waiters_.erase(it);
        listed = true;
      }
    }
    if (listed) stream->Unref();
  }

  absl::Notification subscribed_;
  absl::Notification saw_cancellation_;

  absl::Mutex mu_;
  std::vector<v1::Alert> alerts_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::DiplomaticEvent> events_ ABSL_GUARDED_BY(mu_);
  int32_t max_page_size_ ABSL_GUARDED_BY(mu_) = 1000;
  std::vector<v1::SubscribeResponse> script_before_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::SubscribeResponse> script_after_ ABSL_GUARDED_BY(mu_);
  absl::Status script_final_status_ ABSL_GUARDED_BY(mu_);
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<ScriptedStream*> waiters_ ABSL_GUARDED_BY(mu_);
  uint64_t sequence_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::string> published_ids_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::PublishRequest> publish_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::SubscribeRequest> subscribe_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<int32_t> list_page_sizes_ ABSL_GUARDED_BY(mu_);
};

inline void FakeAlertService::Release() {
  std::vector<ScriptedStream*> waiters;
  {
    absl::MutexLock lock(&mu_);
    released_ = true;
    waiters.swap(waiters_);
  }
  // Each listed stream holds a reference for us: it cannot go away here.
  for (ScriptedStream* stream : waiters) {
    stream->Step();
    stream->Unref();
  }
}

// A gRPC server on 127.0.0.1:<free port> serving `service`, which must
// outlive it. Shuts down (cancelling calls still running) when destroyed.
class FakeServer {
 public:
  explicit FakeServer(grpc::Service* service) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(service);
    server_ = builder.BuildAndStart();
  }
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;
  ~FakeServer() {
    if (server_ != nullptr) {
      server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    }
  }

  // Whether the server started.
  [[nodiscard]] bool ok() const { return server_ != nullptr && port_ > 0; }
  [[nodiscard]] std::string address() const {
    return absl::StrCat("127.0.0.1:", port_);
  }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace dipwire::testing

#endif  // DIPWIRE_TESTS_CLIENT_FAKE_ALERT_SERVICE_H_

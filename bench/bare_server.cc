// dipwire-bare-server: the baseline dipwire-bench compares dipwired with. It
// serves the same dipwire.v1.AlertService (Publish, PublishStream and
// Subscribe; the other methods are UNIMPLEMENTED) on gRPC's callback API,
// with no storage, no validation and no rules: every event received becomes
// one SubscribeResponse holding one alert that carries the event (so the
// message is as large as dipwired's), written to every subscriber, one
// message per write.
//
// It is built as a competent bare broadcast server would be, so that it is
// a fair yardstick:
//   - A publish is O(1): the message is serialized once and appended to a
//     shared in-memory log (segments of serialized slices); the publishing
//     reaction does not fan out.
//   - Each subscriber pulls its next message from the log in its own
//     OnWriteDone, so writes are started from each stream's own completion.
//     Subscribe is registered raw (grpc::ByteBuffer), and every subscriber
//     writes the same slice: gRPC serializes nothing per subscriber.
//   - A subscriber with nothing left to write parks; a publish hands the
//     parked ones to a few waker threads, which start their writes.
//   - Memory is bounded: the log keeps the segments some subscriber still
//     needs, at most about --queue messages; a subscriber that falls further
//     behind skips to the oldest message kept, and the messages it missed
//     are counted (logged at exit) rather than hold anyone up.
//
//   dipwire-bare-server [--listen 127.0.0.1:0] [--queue 1048576]
//
// Prints "listening on HOST:PORT" once it serves, like dipwired; exits 0 on
// SIGTERM or SIGINT.

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_status.h"
#include "dipwire/v1/alerts.grpc.pb.h"
#include "google/protobuf/util/time_util.h"
#include "grpc/slice.h"
#include "grpcpp/grpcpp.h"

namespace {

using dipwire::v1::AlertService;
using dipwire::v1::DiplomaticEvent;
using dipwire::v1::PublishRequest;
using dipwire::v1::PublishResponse;
using dipwire::v1::SubscribeResponse;

// `message` serialized into one slice that gRPC can send by reference.
grpc::Slice Serialize(const SubscribeResponse& message) {
  const size_t size = message.ByteSizeLong();
  grpc_slice slice = grpc_slice_malloc(size);
  message.SerializeWithCachedSizesToArray(GRPC_SLICE_START_PTR(slice));
  return {slice, grpc::Slice::STEAL_REF};
}

// A run of consecutive messages of the log. A slot is written once, under
// the log's lock, before the log's head passes it; after that it is only
// read, so readers that saw the head past it need no lock.
struct Segment {
  Segment(uint64_t first_sequence, size_t size)
      : first(first_sequence), slots(size) {}
  const uint64_t first;  // the sequence of slots[0]
  std::vector<grpc::Slice> slots;
};
using SegmentRef = std::shared_ptr<const Segment>;

class Subscriber;

// The subscribers' wake-ups: a publish hands the parked subscribers here,
// so the publishing reaction does not start their writes itself. Threads
// stop (and are joined) on destruction. Thread-safe.
class Waker {
 public:
  explicit Waker(int threads);
  ~Waker();
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;

  // Takes the references `subscribers` hold (Log::Append).
  void Wake(std::vector<Subscriber*> subscribers) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  absl::Mutex mu_;
  std::deque<std::vector<Subscriber*>> batches_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  const size_t threads_count_;
  std::vector<std::thread> threads_;
};

// The shared log of serialized messages and the parked subscribers.
// Thread-safe.
class Log {
 public:
  // Keeps at most about `limit` messages (whole segments) for the slowest
  // subscriber.
  explicit Log(size_t limit)
      : segment_size_(std::min<size_t>(limit, 1024)),
        max_segments_((limit + segment_size_ - 1) / segment_size_ + 1) {
    segments_.push_back(std::make_shared<Segment>(0, segment_size_));
  }

  // The sequence the next message appended gets.
  uint64_t head() const { return head_.load(std::memory_order_acquire); }

  // Appends `message`; adds the subscribers that were parked, each with a
  // reference, to `wake`.
  void Append(grpc::Slice message, std::vector<Subscriber*>* wake)
      ABSL_LOCKS_EXCLUDED(mu_);

  // A new subscriber: its first sequence (the head) and the segment that
  // holds it, which it keeps while it reads from it.
  uint64_t Attach(SegmentRef* segment) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    *segment = segments_.back();
    return head_.load(std::memory_order_relaxed);
  }

  // The segment that holds *next (< head()); when it is no longer kept,
  // moves *next to the oldest message kept and adds the skipped ones to
  // *lost.
  SegmentRef Find(uint64_t* next, int64_t* lost) ABSL_LOCKS_EXCLUDED(mu_);

  enum class Park { kParked, kMessage, kDone };
  // Parks `subscriber` (next to read: `next`) until a message comes, unless
  // one already has (kMessage) or the subscriber is done (kDone).
  Park Wait(Subscriber* subscriber, uint64_t next) ABSL_LOCKS_EXCLUDED(mu_);
  // The subscriber is done: it is never parked again.
  void Leave(Subscriber* subscriber) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const size_t segment_size_;
  const size_t max_segments_;
  std::atomic<uint64_t> head_{0};
  absl::Mutex mu_;
  // Oldest first; the last is being filled. A segment no subscriber holds
  // is dropped from the front.
  std::deque<std::shared_ptr<Segment>> segments_ ABSL_GUARDED_BY(mu_);
  std::vector<Subscriber*> parked_ ABSL_GUARDED_BY(mu_);
};

// One Subscribe stream: a cursor into the log and at most one write in
// flight. Deletes itself when gRPC is done with it (OnDone) and no waker
// holds it.
class Subscriber final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  Subscriber(Log* log, std::atomic<int64_t>* lost_total)
      : log_(log), lost_total_(lost_total) {
    next_ = log_->Attach(&segment_);
    // A first message at once tells the client it is attached, as
    // dipwired's first heartbeat does.
    SubscribeResponse hello;
    *hello.mutable_heartbeat()->mutable_server_time() =
        google::protobuf::util::TimeUtil::GetCurrentTime();
    grpc::Slice slice = Serialize(hello);
    Write(slice);
  }

  // Woken by the waker after a publish (with a reference from Log::Append).
  void Wake() {
    Pump();
    Unref();
  }

  void Ref() { refs_.fetch_add(1, std::memory_order_relaxed); }

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok || cancelled_) finish = MarkFinished();
    }
    if (finish) {
      Finish(Gone());
    } else if (ok) {
      Pump();
    }
  }

  void OnCancel() override ABSL_LOCKS_EXCLUDED(mu_) {
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      // A write in flight completes (not ok) and finishes the call then.
      if (!writing_) finish = MarkFinished();
    }
    if (finish) Finish(Gone());
  }

  void OnDone() override {
    log_->Leave(this);
    Unref();
  }

 private:
  friend class Log;  // parked_, done_

  // After OnDone and the last waker: nothing runs Pump any more.
  ~Subscriber() override {
    lost_total_->fetch_add(lost_, std::memory_order_relaxed);
  }

  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  static grpc::Status Gone() {
    return dipwire::ToGrpcStatus(
        absl::CancelledError("the subscriber went away"));
  }

  // Starts the next write, or parks until there is one. Called with no
  // write in flight by the one owner of the stream's cursor: the reaction
  // of the last write, or the waker that took it from the parked list.
  void Pump() {
    for (;;) {
      if (next_ < log_->head()) {
        if (next_ < segment_->first ||
            next_ - segment_->first >= segment_->slots.size()) {
          segment_ = log_->Find(&next_, &lost_);
          continue;
        }
        const grpc::Slice& slice = segment_->slots[next_ - segment_->first];
        ++next_;
        Write(slice);
        return;
      }
      if (log_->Wait(this, next_) != Log::Park::kMessage) return;
    }
  }

  // Writes `message` (one serialized SubscribeResponse, shared, not
  // copied) unless the call is finished.
  void Write(const grpc::Slice& message) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      writing_ = true;
    }
    grpc::ByteBuffer buffer(&message, 1);
    write_.Swap(&buffer);
    // Outside the lock: the reaction may run before StartWrite returns.
    StartWrite(&write_);
  }

  // True the first time: the caller then calls Finish (exactly once).
  bool MarkFinished() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    mu_.AssertHeld();
    if (finished_) return false;
    finished_ = true;
    return true;
  }

  Log* const log_;
  std::atomic<int64_t>* const lost_total_;
  // gRPC's (until OnDone) and one per waker that holds the stream.
  std::atomic<int> refs_{1};

  // The cursor, owned by whoever runs Pump (see there).
  uint64_t next_ = 0;
  SegmentRef segment_;  // holds next_ (or ends just before it)
  int64_t lost_ = 0;
  grpc::ByteBuffer write_;  // the write in flight

  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;

  // Guarded by the log's lock.
  bool parked_ = false;
  bool done_ = false;
};

void Log::Append(grpc::Slice message, std::vector<Subscriber*>* wake) {
  std::shared_ptr<Segment> dropped;  // freed outside the lock
  absl::MutexLock lock(&mu_);
  const uint64_t sequence = head_.load(std::memory_order_relaxed);
  Segment* tail = segments_.back().get();
  if (sequence - tail->first == tail->slots.size()) {
    segments_.push_back(std::make_shared<Segment>(sequence, segment_size_));
    tail = segments_.back().get();
  }
  tail->slots[sequence - tail->first] = std::move(message);
  head_.store(sequence + 1, std::memory_order_release);
  // A front segment nobody holds is read by nobody again (subscribers
  // only move forward, and a new one starts in the last segment).
  if (segments_.size() > 1 && (segments_.front().use_count() == 1 ||
                               segments_.size() > max_segments_)) {
    dropped = std::move(segments_.front());
    segments_.pop_front();
  }
  for (Subscriber* subscriber : parked_) {
    subscriber->Ref();
    subscriber->parked_ = false;
  }
  wake->insert(wake->end(), parked_.begin(), parked_.end());
  parked_.clear();
}

SegmentRef Log::Find(uint64_t* next, int64_t* lost) {
  absl::MutexLock lock(&mu_);
  const uint64_t oldest = segments_.front()->first;
  if (*next < oldest) {
    *lost += static_cast<int64_t>(oldest - *next);
    *next = oldest;
  }
  return segments_[(*next - oldest) / segment_size_];
}

Log::Park Log::Wait(Subscriber* subscriber, uint64_t next) {
  absl::MutexLock lock(&mu_);
  if (subscriber->done_) return Park::kDone;
  if (head_.load(std::memory_order_relaxed) > next) return Park::kMessage;
  subscriber->parked_ = true;
  parked_.push_back(subscriber);
  return Park::kParked;
}

void Log::Leave(Subscriber* subscriber) {
  absl::MutexLock lock(&mu_);
  subscriber->done_ = true;
  if (subscriber->parked_) {
    subscriber->parked_ = false;
    parked_.erase(std::find(parked_.begin(), parked_.end(), subscriber));
  }
}

Waker::Waker(int threads) : threads_count_(static_cast<size_t>(threads)) {
  threads_.reserve(threads_count_);
  for (size_t i = 0; i < threads_count_; ++i) {
    threads_.emplace_back([this] { Loop(); });
  }
}

Waker::~Waker() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
}

void Waker::Wake(std::vector<Subscriber*> subscribers) {
  if (subscribers.empty()) return;
  absl::MutexLock lock(&mu_);
  // One share per thread, so all of them start writes at once.
  const size_t shares = std::min(threads_count_, subscribers.size());
  const size_t per = (subscribers.size() + shares - 1) / shares;
  for (size_t begin = per; begin < subscribers.size(); begin += per) {
    const size_t end = std::min(begin + per, subscribers.size());
    batches_.emplace_back(subscribers.begin() + static_cast<ptrdiff_t>(begin),
                          subscribers.begin() + static_cast<ptrdiff_t>(end));
  }
  subscribers.resize(std::min(per, subscribers.size()));
  batches_.push_back(std::move(subscribers));
}

void Waker::Loop() {
  for (;;) {
    std::vector<Subscriber*> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Waker* waker) ABSL_EXCLUSIVE_LOCKS_REQUIRED(waker->mu_) {
            return waker->stopping_ || !waker->batches_.empty();
          },
          this));
      if (batches_.empty()) return;  // stopping
      batch = std::move(batches_.front());
      batches_.pop_front();
    }
    for (Subscriber* subscriber : batch) subscriber->Wake();
  }
}

// Turns each event of a request into one message for every subscriber (an
// O(1) append to the log) and fills the publisher's answer (ACCEPTED, a
// sequence, one alert id each).
class Broadcaster {
 public:
  Broadcaster(Log* log, Waker* waker) : log_(log), waker_(waker) {}

  void Publish(const PublishRequest& request, PublishResponse* response) {
    std::vector<Subscriber*> wake;
    for (const DiplomaticEvent& event : request.events()) {
      const uint64_t sequence = next_sequence_.fetch_add(1) + 1;
      SubscribeResponse message;
      dipwire::v1::Alert* alert = message.add_alerts();
      alert->set_alert_id(absl::StrCat("a", sequence));
      alert->set_cursor(absl::StrCat(sequence));
      *alert->mutable_event() = event;
      log_->Append(Serialize(message), &wake);
      dipwire::v1::PublishResult* result = response->add_results();
      result->set_event_id(event.event_id());
      result->set_outcome(dipwire::v1::PublishResult::ACCEPTED);
      result->set_sequence(sequence);
      result->add_alert_ids(alert->alert_id());
    }
    waker_->Wake(std::move(wake));
  }

 private:
  Log* const log_;
  Waker* const waker_;
  std::atomic<uint64_t> next_sequence_{0};
};

// PublishStream: reads the next request as soon as one is answered in
// memory; answers are written in order, one write in flight.
class PublishStream final
    : public grpc::ServerBidiReactor<PublishRequest, PublishResponse> {
 public:
  explicit PublishStream(Broadcaster* broadcaster) : broadcaster_(broadcaster) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    const PublishResponse* write = nullptr;
    bool finish = false;
    if (ok) {
      auto response = std::make_unique<PublishResponse>();
      broadcaster_->Publish(request_, response.get());
      absl::MutexLock lock(&mu_);
      if (writing_ == nullptr) {
        writing_ = std::move(response);
        write = writing_.get();
      } else {
        answers_.push_back(std::move(response));
      }
    } else {
      absl::MutexLock lock(&mu_);
      reading_done_ = true;
      finish = writing_ == nullptr && MarkFinished();
    }
    // Outside the lock: a reaction may run before these return.
    if (write != nullptr) StartWrite(write);
    if (ok) StartRead(&request_);
    if (finish) Finish(grpc::Status::OK);
  }

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    const PublishResponse* write = nullptr;
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      writing_.reset();
      if (ok && !answers_.empty()) {
        writing_ = std::move(answers_.front());
        answers_.pop_front();
        write = writing_.get();
      } else if (!ok || reading_done_) {
        finish = MarkFinished();
      }
    }
    if (write != nullptr) StartWrite(write);
    if (finish) Finish(grpc::Status::OK);
  }

  void OnDone() override { delete this; }

 private:
  bool MarkFinished() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    mu_.AssertHeld();
    if (finished_) return false;
    finished_ = true;
    return true;
  }

  Broadcaster* const broadcaster_;
  absl::Mutex mu_;
  PublishRequest request_;  // only one read in flight
  std::unique_ptr<PublishResponse> writing_ ABSL_GUARDED_BY(mu_);
  std::deque<std::unique_ptr<PublishResponse>> answers_ ABSL_GUARDED_BY(mu_);
  bool reading_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// Subscribe is raw: its responses are the log's serialized messages.
class BareService final : public AlertService::WithRawCallbackMethod_Subscribe<
                              AlertService::CallbackService> {
 public:
  explicit BareService(size_t queue_limit)
      : log_(queue_limit),
        waker_(static_cast<int>(
            std::max(2U, std::min(4U, std::thread::hardware_concurrency())))),
        broadcaster_(&log_, &waker_) {}

  int64_t lost() const { return lost_.load(std::memory_order_relaxed); }

  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* context,
                                    const PublishRequest* request,
                                    PublishResponse* response) override {
    broadcaster_.Publish(*request, response);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerBidiReactor<PublishRequest, PublishResponse>* PublishStream(
      grpc::CallbackServerContext* /*context*/) override {
    return new ::PublishStream(&broadcaster_);
  }

  grpc::ServerWriteReactor<grpc::ByteBuffer>* Subscribe(
      grpc::CallbackServerContext* /*context*/,
      const grpc::ByteBuffer* /*request*/) override {
    return new Subscriber(&log_, &lost_);
  }

 private:
  std::atomic<int64_t> lost_{0};
  Log log_;
  Waker waker_;
  Broadcaster broadcaster_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  size_t queue_limit = size_t{1} << 20;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    const bool has_value = i + 1 < argc;
    if (flag == "--listen" && has_value) {
      listen = argv[i + 1];
    } else if (flag == "--queue" && has_value &&
               absl::SimpleAtoi(argv[i + 1], &queue_limit) && queue_limit > 0) {
      continue;
    } else {
      std::fprintf(stderr,
                   "usage: dipwire-bare-server [--listen HOST:PORT] "
                   "[--queue MESSAGES A SUBSCRIBER MAY FALL BEHIND, > 0]\n");
      return 2;
    }
  }
  // SIGTERM and SIGINT are taken by sigwait below, on this thread only:
  // blocked before gRPC (and the waker) start their threads, which inherit
  // the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  BareService service(queue_limit);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "dipwire-bare-server: cannot listen on %s\n",
                 listen.c_str());
    return 1;
  }
  const std::string host = listen.substr(0, listen.rfind(':'));
  std::cout << "listening on " << host << ":" << port << std::endl;
  int signal = 0;
  sigwait(&signals, &signal);
  // Streams still open are cancelled at the deadline.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server.reset();
  const int64_t lost = service.lost();
  if (lost > 0) {
    std::fprintf(stderr,
                 "dipwire-bare-server: %lld messages missed by subscribers "
                 "that fell more than --queue %zu behind\n",
                 static_cast<long long>(lost), queue_limit);
  }
  return 0;
}

// Publishers and subscribers over Redis Streams (hiredis), the peer that
// dipwire-bench compares with: the stream "bench", one entry per event with
// the serialized event as its field "e".
//
// Batching, as fair as it gets: a "request" of N events is N XADDs written
// to the socket at once (a pipeline, not MULTI: Redis answers each XADD as
// dipwired answers a batch, and appendfsync always makes Redis fsync once
// per event-loop pass, a group commit like dipwired's); at most `in_flight`
// such requests are unanswered, as on a PublishStream.

#include <hiredis/hiredis.h>

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "bench/load.h"

namespace dipwire::bench {
namespace {

struct ContextDeleter {
  void operator()(redisContext* context) const { redisFree(context); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

absl::StatusOr<Context> Connect(int port) {
  Context context(redisConnectWithTimeout("127.0.0.1", port, timeval{5, 0}));
  if (context == nullptr || context->err != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to redis on 127.0.0.1:", port, ": ",
                     context == nullptr ? "out of memory" : context->errstr));
  }
  // Every reply comes within a minute (XREAD blocks for one second), or
  // the call fails: no run waits forever on a server that hangs.
  if (redisSetTimeout(context.get(), timeval{60, 0}) != REDIS_OK) {
    return absl::InternalError("cannot set the redis reply timeout");
  }
  return context;
}

absl::Status ContextError(const redisContext& context, absl::string_view what) {
  return absl::UnavailableError(
      absl::StrCat("redis ", what, ": ", context.errstr));
}

// Reads the answers of one batch of `events` XADDs.
absl::Status ReadAnswers(redisContext* context, int events) {
  for (int i = 0; i < events; ++i) {
    void* raw = nullptr;
    if (redisGetReply(context, &raw) != REDIS_OK) {
      return ContextError(*context, "XADD");
    }
    const Reply reply(static_cast<redisReply*>(raw));
    if (reply->type == REDIS_REPLY_ERROR) {
      return absl::InternalError(absl::StrCat(
          "redis XADD: ", absl::string_view(reply->str, reply->len)));
    }
  }
  return absl::OkStatus();
}

absl::Status RedisLane(int port, const Lane& lane, int per, int in_flight,
                       double rate, int64_t start_ns) {
  absl::StatusOr<Context> context = Connect(port);
  if (!context.ok()) return context.status();
  redisContext* c = context->get();
  std::deque<int> unanswered;  // the sizes of the batches in flight
  const int64_t requests = (lane.end - lane.begin + per - 1) / per;
  for (int64_t r = 0; r < requests; ++r) {
    Pace(start_ns, r, per, rate);
    if (static_cast<int>(unanswered.size()) == in_flight) {
      absl::Status answered = ReadAnswers(c, unanswered.front());
      if (!answered.ok()) return answered;
      unanswered.pop_front();
    }
    const int64_t first = lane.begin + r * per;
    const int64_t end = std::min<int64_t>(first + per, lane.end);
    const int64_t now = NowNanos();
    for (int64_t i = first; i < end; ++i) {
      const std::string payload = BenchEvent(lane, i, now).SerializeAsString();
      redisAppendCommand(c, "XADD bench * e %b", payload.data(),
                         payload.size());
    }
    // The whole batch leaves now, answered or not.
    int done = 0;
    while (done == 0) {
      if (redisBufferWrite(c, &done) != REDIS_OK) {
        return ContextError(*c, "write");
      }
    }
    unanswered.push_back(static_cast<int>(end - first));
  }
  for (const int events : unanswered) {
    absl::Status answered = ReadAnswers(c, events);
    if (!answered.ok()) return answered;
  }
  return absl::OkStatus();
}

// A subscriber on a thread of its own, with a blocking connection.
class RedisSubscriber final : public Subscriber {
 public:
  RedisSubscriber(Context context, const SubscriberOptions& options,
                  Progress* progress)
      : context_(std::move(context)),
        stalled_(options.stalled),
        progress_(progress),
        tally_(options.count),
        thread_([this] { Loop(); }) {}

  ~RedisSubscriber() override { RedisSubscriber::Stop(); }

  absl::Status AwaitAttached(absl::Duration /*timeout*/) override {
    // Connected in StartRedisSubscriber; reading from 0-0 misses nothing.
    return absl::OkStatus();
  }

  void Cancel() override { stop_ = true; }

  void Stop() override {
    Cancel();
    if (thread_.joinable()) thread_.join();
  }

  const Tally& tally() const override { return tally_; }

 private:
  void Loop() {
    std::string last = "0-0";
    // BLOCK 1000: it looks at stop_ at least once a second.
    while (!stop_) {
      if (stalled_) {
        absl::SleepFor(absl::Milliseconds(50));
        continue;
      }
      const Reply reply(static_cast<redisReply*>(redisCommand(
          context_.get(), "XREAD BLOCK 1000 COUNT 1000 STREAMS bench %s",
          last.c_str())));
      if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) return;
      if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) continue;
      // [[stream, [[id, [field, value]], ...]]]
      const redisReply* entries = reply->element[0]->element[1];
      const int64_t now = NowNanos();
      int64_t first = 0;
      for (size_t i = 0; i < entries->elements; ++i) {
        const redisReply* entry = entries->element[i];
        const redisReply* value = entry->element[1]->element[1];
        if (event_.ParseFromArray(value->str, static_cast<int>(value->len))) {
          first += tally_.Record(event_, now);
        }
        last.assign(entry->element[0]->str, entry->element[0]->len);
      }
      tally_.CountRead(static_cast<int64_t>(entries->elements));
      if (first > 0) progress_->Add(first);
    }
  }

  const Context context_;
  const bool stalled_;
  Progress* const progress_;
  std::atomic<bool> stop_{false};
  v1::DiplomaticEvent event_;  // the reader thread's
  Tally tally_;                // the reader thread's until Stop
  std::thread thread_;         // last: starts after the fields it uses
};

}  // namespace

absl::Status PublishRedis(int port, const PublishShape& shape, int64_t count,
                          int64_t* start_ns) {
  const int lanes =
      shape.unary ? shape.publishers * shape.in_flight : shape.publishers;
  const int in_flight = shape.unary ? 1 : shape.in_flight;
  const double rate = shape.rate / lanes;
  *start_ns = NowNanos();
  absl::Mutex mu;
  absl::Status first_error;
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(lanes));
  for (const Lane& lane : SplitLanes(count, lanes)) {
    threads.emplace_back([&, lane, start = *start_ns] {
      absl::Status status = RedisLane(port, lane, shape.events_per_request,
                                      in_flight, rate, start);
      absl::MutexLock lock(&mu);
      if (first_error.ok()) first_error = std::move(status);
    });
  }
  for (std::thread& thread : threads) thread.join();
  return first_error;
}

absl::StatusOr<std::unique_ptr<Subscriber>> StartRedisSubscriber(
    int port, const SubscriberOptions& options, Progress* progress) {
  absl::StatusOr<Context> context = Connect(port);
  if (!context.ok()) return context.status();
  const Reply pong(
      static_cast<redisReply*>(redisCommand(context->get(), "PING")));
  if (pong == nullptr) return ContextError(**context, "PING");
  return std::unique_ptr<Subscriber>(std::make_unique<RedisSubscriber>(
      *std::move(context), options, progress));
}

}  // namespace dipwire::bench

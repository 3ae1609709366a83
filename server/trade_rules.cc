// Trade rules: TRADE_RECORD and TRADE_UPDATE (DESIGN.md, "Alert rules"; the
// contract is in alert_engine.h).

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "dipwire/v1/alerts.pb.h"
#include "dipwire/v1/events.pb.h"
#include "server/alert_engine.h"
#include "server/event_facts.h"
#include "server/rules_internal.h"

namespace dipwire::server {
namespace {

using internal::FormatUsd;
using v1::Alert;
using v1::TradeFigure;

// One series: every year applied to it so far.
struct TradeSeries {
  // year -> value in dollars. Ordered, so that ties for the highest figure
  // resolve the same way every time (the earliest year).
  std::map<int32_t, int64_t> values;
  absl::Time newest_reported_at = absl::InfinitePast();
};

struct Figure {
  int32_t year = 0;
  int64_t value_usd = 0;
};

// The highest figure of `series` (the earliest year on a tie); value 0 when
// the series is empty (every valid figure is > 0).
Figure Highest(const TradeSeries& series) {
  Figure highest;
  for (const auto& [year, value] : series.values) {
    if (value > highest.value_usd) {
      highest = {year, value};
    }
  }
  return highest;
}

// The series key. The pair is unordered for TOTAL; directional flows keep
// the event's order, since CHN's exports to RUS and RUS's exports to CHN are
// different quantities and mixing them would report false revisions and
// records. '\n' cannot occur in a country code or a normalized name.
std::string SeriesKey(const TradeFigure& trade) {
  std::string first = trade.country_a();
  std::string second = trade.country_b();
  if (trade.flow() == TradeFigure::TOTAL && second < first) {
    std::swap(first, second);
  }
  return absl::StrCat(first, "\n", second, "\n", static_cast<int>(trade.flow()),
                      "\n", NormalizeName(trade.reporter()));
}

// "CHN–RUS total trade" (codes sorted), "CHN exports to RUS", "CHN imports
// from RUS" (the event's order).
std::string Subject(const TradeFigure& trade) {
  switch (trade.flow()) {
    case TradeFigure::EXPORTS:
      return absl::StrCat(trade.country_a(), " exports to ", trade.country_b());
    case TradeFigure::IMPORTS:
      return absl::StrCat(trade.country_a(), " imports from ",
                          trade.country_b());
    default:
      break;
  }
  const bool sorted = trade.country_a() <= trade.country_b();
  return absl::StrCat(
      sorted ? trade.country_a() : trade.country_b(), internal::kEnDash,
      sorted ? trade.country_b() : trade.country_a(), " total trade");
}

class TradeRules final : public RuleSet {
 public:
  [[nodiscard]] bool Handles(const v1::DiplomaticEvent& event) const override {
    return event.has_trade();
  }

  void Apply(const LogEntry& entry, std::vector<Alert>* alerts) override {
    const TradeFigure& trade = entry.event->trade();
    const absl::Time reported_at =
        internal::ToAbslTime(entry.event->reported_at());

    TradeSeries& series = series_[SeriesKey(trade)];
    if (reported_at < series.newest_reported_at) {
      return;  // stale
    }
    series.newest_reported_at = reported_at;

    const auto same_year = series.values.find(trade.year());
    const bool revised = same_year != series.values.end();
    if (revised && same_year->second == trade.value_usd()) {
      return;
    }
    const int64_t previous_value = revised ? same_year->second : 0;

    // The earlier figures include this year's previous value when revised.
    const bool has_earlier = !series.values.empty();
    const Figure highest = Highest(series);
    const bool record = has_earlier && trade.value_usd() > highest.value_usd;

    std::string headline = absl::StrCat(
        record ? "Trade record: " : "Trade update: ", Subject(trade), " ",
        FormatUsd(trade.value_usd()), " in ", trade.year());
    if (record) {
      absl::StrAppend(&headline, " (previous high ",
                      FormatUsd(highest.value_usd), " in ", highest.year, ")");
    } else if (revised) {
      absl::StrAppend(&headline, " (was ", FormatUsd(previous_value), ")");
    } else if (has_earlier) {
      absl::StrAppend(&headline, " (high ", FormatUsd(highest.value_usd),
                      " in ", highest.year, ")");
    }

    Alert alert = internal::NewAlert(
        entry, record ? Alert::TRADE_RECORD : Alert::TRADE_UPDATE,
        record ? Alert::HIGH : Alert::LOW, std::move(headline));
    v1::TradeChange* change = alert.mutable_trade_change();
    change->set_previous_record_usd(highest.value_usd);
    change->set_previous_record_year(highest.year);
    if (revised) {
      change->set_previous_value_usd(previous_value);
    }
    alerts->push_back(std::move(alert));

    series.values[trade.year()] = trade.value_usd();
  }

 private:
  // Keyed by SeriesKey. Only looked up, never iterated, so its order cannot
  // reach the output.
  absl::flat_hash_map<std::string, TradeSeries> series_;
};

}  // namespace

std::unique_ptr<RuleSet> NewTradeRules() {
  return std::make_unique<TradeRules>();
}

}  // namespace dipwire::server

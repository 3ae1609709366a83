// Trade rules: TRADE_RECORD and TRADE_UPDATE (DESIGN.md, "Alert rules"; the
// contract is in alert_engine.h).

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "dipwire/internal/engine_state.pb.h"
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

// One series: its identity and every year applied to it so far.
struct TradeSeries {
  // The identity, as SeriesKey reads it (for TOTAL the pair sorted); kept
  // for snapshots.
  std::string country_a;
  std::string country_b;
  TradeFigure::Flow flow = TradeFigure::FLOW_UNSPECIFIED;
  std::string reporter;  // normalized
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
std::string SeriesKey(absl::string_view country_a, absl::string_view country_b,
                      TradeFigure::Flow flow,
                      absl::string_view normalized_reporter) {
  if (flow == TradeFigure::TOTAL && country_b < country_a) {
    std::swap(country_a, country_b);
  }
  return absl::StrCat(country_a, "\n", country_b, "\n", static_cast<int>(flow),
                      "\n", normalized_reporter);
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

  void Save(dipwire::internal::EngineState* state) const override {
    const auto entries = internal::SortedByKey(series_);
    auto* out = state->mutable_trade_series();
    out->Clear();
    out->Reserve(static_cast<int>(entries.size()));
    for (const auto* entry : entries) {
      const TradeSeries& series = entry->second;
      dipwire::internal::TradeSeriesState* s = out->Add();
      s->set_country_a(series.country_a);
      s->set_country_b(series.country_b);
      s->set_flow(series.flow);
      s->set_reporter(series.reporter);
      for (const auto& [year, value] : series.values) {
        dipwire::internal::TradeFigureState* figure = s->add_figures();
        figure->set_year(year);
        figure->set_value_usd(value);
      }
      *s->mutable_newest_reported_at() =
          internal::ToProtoTimestamp(series.newest_reported_at);
    }
  }

  absl::Status Load(const dipwire::internal::EngineState& state) override {
    series_.reserve(state.trade_series_size());
    for (int i = 0; i < state.trade_series_size(); ++i) {
      const dipwire::internal::TradeSeriesState& s = state.trade_series(i);
      const std::string path = absl::StrCat("trade_series[", i, "]");
      DIPWIRE_RETURN_IF_ERROR(CheckSnapshotIdentity(path, s));
      DIPWIRE_RETURN_IF_ERROR(internal::CheckSnapshotTimestamp(
          absl::StrCat(path, ".newest_reported_at"), s.newest_reported_at()));
      auto [it, inserted] = series_.try_emplace(
          SeriesKey(s.country_a(), s.country_b(), s.flow(), s.reporter()));
      if (!inserted) {
        return internal::SnapshotError(path, ": the same series again");
      }
      TradeSeries& series = it->second;
      series.country_a = s.country_a();
      series.country_b = s.country_b();
      series.flow = s.flow();
      series.reporter = s.reporter();
      for (int j = 0; j < s.figures_size(); ++j) {
        const dipwire::internal::TradeFigureState& figure = s.figures(j);
        if (j > 0 && figure.year() <= s.figures(j - 1).year()) {
          return internal::SnapshotError(
              path, ".figures[", j, "].year: ", figure.year(),
              " does not follow ", s.figures(j - 1).year());
        }
        // Highest() takes 0 for "no figure"; every figure is above it.
        if (figure.value_usd() <= 0) {
          return internal::SnapshotError(path, ".figures[", j,
                                         "].value_usd: ", figure.value_usd(),
                                         " is not positive");
        }
        series.values.emplace_hint(series.values.end(), figure.year(),
                                   figure.value_usd());
      }
      // A series exists because a figure was applied to it.
      if (s.figures_size() == 0) {
        return internal::SnapshotError(path, ".figures: none");
      }
      series.newest_reported_at = internal::ToAbslTime(s.newest_reported_at());
    }
    return absl::OkStatus();
  }

  void Apply(const LogEntry& entry, std::vector<Alert>* alerts) override {
    const TradeFigure& trade = entry.event->trade();
    const absl::Time reported_at =
        internal::ToAbslTime(entry.event->reported_at());

    const std::string reporter = NormalizeName(trade.reporter());
    auto [it, inserted] = series_.try_emplace(SeriesKey(
        trade.country_a(), trade.country_b(), trade.flow(), reporter));
    TradeSeries& series = it->second;
    if (inserted) {
      const bool swap = trade.flow() == TradeFigure::TOTAL &&
                        trade.country_b() < trade.country_a();
      series.country_a = swap ? trade.country_b() : trade.country_a();
      series.country_b = swap ? trade.country_a() : trade.country_b();
      series.flow = trade.flow();
      series.reporter = reporter;
    }
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
  // OK when the identity of `s`, at `path` in a snapshot, is one Apply could
  // have recorded.
  static absl::Status CheckSnapshotIdentity(
      absl::string_view path, const dipwire::internal::TradeSeriesState& s) {
    if (!TradeFigure::Flow_IsValid(s.flow()) ||
        s.flow() == TradeFigure::FLOW_UNSPECIFIED) {
      return internal::SnapshotError(path, ".flow: ", s.flow(),
                                     " is not a known value");
    }
    if (s.flow() == TradeFigure::TOTAL && s.country_b() < s.country_a()) {
      return internal::SnapshotError(path, ": a TOTAL pair not sorted (",
                                     absl::CEscape(s.country_a()), ", ",
                                     absl::CEscape(s.country_b()), ")");
    }
    return internal::CheckSnapshotName(absl::StrCat(path, ".reporter"),
                                       s.reporter());
  }

  // Keyed by SeriesKey. Looked up, and iterated only by Save, which sorts,
  // so its order cannot reach the output.
  absl::flat_hash_map<std::string, TradeSeries> series_;
};

}  // namespace

std::unique_ptr<RuleSet> NewTradeRules() {
  return std::make_unique<TradeRules>();
}

}  // namespace dipwire::server

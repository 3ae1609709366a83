#ifndef DIPWIRE_SERVER_EVENT_FACTS_H_
#define DIPWIRE_SERVER_EVENT_FACTS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "dipwire/v1/events.pb.h"

namespace dipwire::server {

// Facts derived from an event that the alert rules and the filter language
// both need, so that both read an event the same way. Pure functions.

// The countries an event concerns, sorted and unique: a meeting's
// participants and host, a trade figure's two countries, a peace process's
// parties and venue. Empty strings are skipped.
std::vector<std::string> EventCountries(const v1::DiplomaticEvent& event);

// The participants' names of a meeting, in the order given; empty otherwise.
std::vector<std::string> EventActors(const v1::DiplomaticEvent& event);

// "meeting", "trade", "peace_talk", or "" when no kind is set.
absl::string_view EventKindName(const v1::DiplomaticEvent& event);

// `text` trimmed, with each run of white space (newlines included) folded
// to one space; case is kept. "  Wang \n Yi " -> "Wang Yi".
std::string FoldWhiteSpace(absl::string_view text);

// A name as it is compared: FoldWhiteSpace, then ASCII letters lower-cased.
// "  Wang   Yi " -> "wang yi".
std::string NormalizeName(absl::string_view name);

}  // namespace dipwire::server

#endif  // DIPWIRE_SERVER_EVENT_FACTS_H_

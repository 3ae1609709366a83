#include "server/event_facts.h"

#include <algorithm>

#include "absl/strings/ascii.h"

namespace dipwire::server {

std::vector<std::string> EventCountries(const v1::DiplomaticEvent& event) {
  std::vector<std::string> countries;
  auto add = [&countries](const std::string& code) {
    if (!code.empty()) countries.push_back(code);
  };
  switch (event.kind_case()) {
    case v1::DiplomaticEvent::kMeeting:
      for (const v1::Actor& actor : event.meeting().participants()) {
        add(actor.country());
      }
      add(event.meeting().host_country());
      break;
    case v1::DiplomaticEvent::kTrade:
      add(event.trade().country_a());
      add(event.trade().country_b());
      break;
    case v1::DiplomaticEvent::kPeaceTalk:
      for (const std::string& party : event.peace_talk().parties()) add(party);
      add(event.peace_talk().venue_country());
      break;
    case v1::DiplomaticEvent::KIND_NOT_SET:
      break;
  }
  std::sort(countries.begin(), countries.end());
  countries.erase(std::unique(countries.begin(), countries.end()),
                  countries.end());
  return countries;
}

std::vector<std::string> EventActors(const v1::DiplomaticEvent& event) {
  std::vector<std::string> actors;
  if (event.has_meeting()) {
    for (const v1::Actor& actor : event.meeting().participants()) {
      actors.push_back(actor.name());
    }
  }
  return actors;
}

absl::string_view EventKindName(const v1::DiplomaticEvent& event) {
  switch (event.kind_case()) {
    case v1::DiplomaticEvent::kMeeting:
      return "meeting";
    case v1::DiplomaticEvent::kTrade:
      return "trade";
    case v1::DiplomaticEvent::kPeaceTalk:
      return "peace_talk";
    case v1::DiplomaticEvent::KIND_NOT_SET:
      break;
  }
  return "";
}

std::string FoldWhiteSpace(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (char c : text) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

std::string NormalizeName(absl::string_view name) {
  std::string out = FoldWhiteSpace(name);
  absl::AsciiStrToLower(&out);
  return out;
}

}  // namespace dipwire::server

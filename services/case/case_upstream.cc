#include "services/case/case_upstream.h"

#include <utility>

#include "common/eventlog/upstream_fact.h"
#include "mend/conference/v1/events.pb.h"
#include "mend/consent/v1/events.pb.h"
#include "mend/scheduling/v1/events.pb.h"

namespace mend::casesvc {
namespace {

namespace case_v1 = ::mend::case_::v1;
namespace consent_v1 = ::mend::consent::v1;
namespace scheduling_v1 = ::mend::scheduling::v1;
namespace conference_v1 = ::mend::conference::v1;
using Fact = case_v1::UpstreamFactRecorded;

// If `view` holds a T: the fact of it, filled in by `fill(event, fact)`.
// nullopt for another type; DATA_LOSS if the payload does not parse or names
// no case.
template <typename T, typename Fill>
absl::StatusOr<std::optional<Fact>> FactIf(consent_v1::FactSource source,
                                           uint64_t position, std::string_view bytes,
                                           const eventlog::RecordView& view, Fill fill) {
  if (view.event_type != T::descriptor()->full_name()) return std::nullopt;
  return eventlog::UpstreamFact<Fact, T>(source, position, bytes, view, std::move(fill));
}

// The first of `tries` that recognises the event's type.
template <typename... Tries>
absl::StatusOr<std::optional<Fact>> FirstOf(Tries&&... tries) {
  absl::StatusOr<std::optional<Fact>> out = std::optional<Fact>();
  (void)((out = tries(), !out.ok() || out->has_value()) || ...);
  return out;
}

}  // namespace

absl::StatusOr<std::optional<Fact>> SchedulingFact(uint64_t position,
                                                   std::string_view bytes,
                                                   const eventlog::RecordView& view) {
  constexpr consent_v1::FactSource kLog = consent_v1::SCHEDULING_LOG;
  return FirstOf(
      [&] {
        return FactIf<scheduling_v1::ProgrammeCompleted>(
            kLog, position, bytes, view,
            [](const scheduling_v1::ProgrammeCompleted& e, Fact& f) {
              f.set_programme_completed(e.programme_id());
            });
      },
      [&] {
        return FactIf<scheduling_v1::ConferenceBooked>(
            kLog, position, bytes, view,
            [](const scheduling_v1::ConferenceBooked& e, Fact& f) {
              f.set_conference_booked(e.booking_id());
            });
      },
      [&] {
        return FactIf<scheduling_v1::BookingCancelled>(
            kLog, position, bytes, view,
            [](const scheduling_v1::BookingCancelled& e, Fact& f) {
              f.set_conference_booking_cancelled(e.booking_id());
            });
      });
}

absl::StatusOr<std::optional<Fact>> ConferenceFact(uint64_t position,
                                                   std::string_view bytes,
                                                   const eventlog::RecordView& view) {
  constexpr consent_v1::FactSource kLog = consent_v1::CONFERENCE_LOG;
  return FirstOf(
      [&] {
        return FactIf<conference_v1::ConferenceHeld>(
            kLog, position, bytes, view,
            [](const conference_v1::ConferenceHeld& e, Fact& f) {
              f.set_conference_held(e.booking_id());
            });
      },
      [&] {
        return FactIf<conference_v1::ConferenceAbandoned>(
            kLog, position, bytes, view,
            [](const conference_v1::ConferenceAbandoned& e, Fact& f) {
              f.set_conference_not_held(e.booking_id());
            });
      },
      [&] {
        return FactIf<conference_v1::ConferenceStopped>(
            kLog, position, bytes, view,
            [](const conference_v1::ConferenceStopped& e, Fact& f) {
              f.set_conference_not_held(e.booking_id());
            });
      },
      [&] {
        return FactIf<conference_v1::FollowUpCompleted>(
            kLog, position, bytes, view,
            [](const conference_v1::FollowUpCompleted&, Fact& f) {
              f.set_follow_up_completed(true);
            });
      });
}

}  // namespace mend::casesvc

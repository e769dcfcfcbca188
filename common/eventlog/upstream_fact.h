// Reading another service's record as a fact a follower keeps: the one way
// the services parse an upstream payload and fill the envelope of their own
// UpstreamFactRecorded. Each service has its own fact message (the case,
// scheduling and conference services keep different facts of their
// upstreams, by their own code); the envelope fields are the same in all:
// case_id, source, position, event_type, event_id, record_hash,
// recorded_unix_micros.
//
//   absl::StatusOr<scheduling_v1::UpstreamFactRecorded> fact =
//       UpstreamFact<scheduling_v1::UpstreamFactRecorded, case_v1::CaseClosed>(
//           consent_v1::CASE_LOG, position, bytes, view,
//           [](const case_v1::CaseClosed& e, auto& f) { f.set_closed(e.reason()); });
#ifndef MEND_COMMON_EVENTLOG_UPSTREAM_FACT_H_
#define MEND_COMMON_EVENTLOG_UPSTREAM_FACT_H_

#include <climits>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"
#include "common/eventlog/record_codec.h"
#include "mend/consent/v1/events.pb.h"

namespace mend::eventlog {

// "case", "consent", "scheduling" or "conference": a log's name in messages.
inline const char* UpstreamLogName(consent::v1::FactSource source) {
  switch (source) {
    case consent::v1::CONSENT_LOG:
      return "consent";
    case consent::v1::SCHEDULING_LOG:
      return "scheduling";
    case consent::v1::CONFERENCE_LOG:
      return "conference";
    default:
      return "case";
  }
}

// The payload of `view` (at `position` of `source`'s log) as T, which names
// a case: DATA_LOSS naming the type, the log and the position if it does not
// parse or its case_id is empty.
template <typename T>
absl::StatusOr<T> ParseUpstreamPayload(const RecordView& view, uint64_t position,
                                       consent::v1::FactSource source) {
  T message;
  if (view.payload.size() > static_cast<size_t>(INT_MAX) ||
      !message.ParseFromArray(view.payload.data(),
                              static_cast<int>(view.payload.size()))) {
    return absl::DataLossError(absl::StrCat(T::descriptor()->full_name(), " at ",
                                            UpstreamLogName(source), "-log position ",
                                            position, ": payload does not parse"));
  }
  if (message.case_id().empty()) {
    return absl::DataLossError(absl::StrCat(T::descriptor()->full_name(), " at ",
                                            UpstreamLogName(source), "-log position ",
                                            position, ": no case_id"));
  }
  return message;
}

// The fact's envelope: everything but the fact itself. `bytes` is the exact
// stored record (its hash is the record's).
template <typename Fact>
Fact UpstreamFactEnvelope(std::string_view case_id, consent::v1::FactSource source,
                          uint64_t position, std::string_view bytes,
                          const RecordView& view) {
  Fact fact;
  fact.set_case_id(std::string(case_id));
  fact.set_source(source);
  fact.set_position(position);
  fact.set_event_type(std::string(view.event_type));
  fact.set_event_id(std::string(view.event_id));
  fact.set_record_hash(Sha256Bytes(bytes));
  fact.set_recorded_unix_micros(view.recorded_unix_micros);
  return fact;
}

// The record (whose type the caller has checked is T) as a Fact: parsed,
// the envelope filled, then `fill(event, fact)` sets the fact itself.
template <typename Fact, typename T, typename Fill>
absl::StatusOr<Fact> UpstreamFact(consent::v1::FactSource source, uint64_t position,
                                  std::string_view bytes, const RecordView& view,
                                  Fill fill) {
  absl::StatusOr<T> event = ParseUpstreamPayload<T>(view, position, source);
  if (!event.ok()) return event.status();
  Fact fact = UpstreamFactEnvelope<Fact>(event->case_id(), source, position, bytes, view);
  fill(*event, fact);
  return fact;
}

}  // namespace mend::eventlog

#endif  // MEND_COMMON_EVENTLOG_UPSTREAM_FACT_H_

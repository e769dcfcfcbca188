// CaseServiceImpl's followers: the scheduling and conference logs, folded
// into the facts the case keeps of them (case_upstream.h) and the stages
// derived from those facts (case_decide.h, "Derived stages").
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/status_macros.h"
#include "common/observability/logging.h"
#include "services/case/case_service.h"
#include "services/case/case_upstream.h"

namespace mend::casesvc {
namespace {

// "scheduling" or "conference": the upstream's name in event ids and logs.
const char* SourceName(consent_v1::FactSource source) {
  return source == consent_v1::SCHEDULING_LOG ? "scheduling" : "conference";
}

// What the case keeps of `event` of `source`'s log (case_upstream.h).
absl::StatusOr<std::optional<case_v1::UpstreamFactRecorded>> FactOf(
    consent_v1::FactSource source, const UpstreamEvent& event) {
  return source == consent_v1::SCHEDULING_LOG
             ? SchedulingFact(event.position, event.bytes, event.view)
             : ConferenceFact(event.position, event.bytes, event.view);
}

}  // namespace

void CaseServiceImpl::SetFollowers(const Follower* scheduling,
                                   const Follower* conference) {
  if (scheduling != nullptr) causal_.Follow("scheduling", scheduling);
  if (conference != nullptr) causal_.Follow("conference", conference);
}

absl::Status CaseServiceImpl::WaitFor(const common_v1::CausalToken& token,
                                      absl::Time deadline) const {
  common_v1::CausalToken upstreams = token;
  upstreams.clear_consent_position();
  return causal_.Wait(upstreams, deadline);
}

BatchEffects CaseServiceImpl::ObserveScheduling(absl::Span<const UpstreamEvent> events) {
  return ObserveBatch(consent_v1::SCHEDULING_LOG, events);
}

BatchEffects CaseServiceImpl::ObserveConference(absl::Span<const UpstreamEvent> events) {
  return ObserveBatch(consent_v1::CONFERENCE_LOG, events);
}

// Whether a fact is kept at all depends on the case's state (a cancellation
// counts only for an open conference booking): the batch is cut before a
// second event of a case it already writes to (Follower::HandleEach with a
// key), so each is decided on the state that includes the one before.
BatchEffects CaseServiceImpl::ObserveBatch(consent_v1::FactSource source,
                                           absl::Span<const UpstreamEvent> events) {
  return Follower::HandleEach(
      events, [&](const UpstreamEvent& e) { return ObserveOne(source, e); },
      [&](const UpstreamEvent& e) { return CaseOfUpstream(source, e); });
}

absl::StatusOr<std::optional<std::string>> CaseServiceImpl::CaseOfUpstream(
    consent_v1::FactSource source, const UpstreamEvent& event) const {
  MEND_ASSIGN_OR_RETURN(std::optional<case_v1::UpstreamFactRecorded> fact,
                        FactOf(source, event));
  if (!fact.has_value()) return std::nullopt;
  return fact->case_id();
}

absl::StatusOr<eventlog::WriteRequest> CaseServiceImpl::ObserveOne(
    consent_v1::FactSource source, const UpstreamEvent& event) {
  MEND_ASSIGN_OR_RETURN(std::optional<case_v1::UpstreamFactRecorded> fact,
                        FactOf(source, event));
  if (!fact.has_value()) return eventlog::WriteRequest{};  // nothing to keep
  const std::string& case_id = fact->case_id();
  MEND_RETURN_IF_ERROR(path_.Sync(case_id));
  CaseState state;
  MEND_RETURN_IF_ERROR(path_.Read(
      case_id,
      [&](const CaseState& s) {
        state = s;
        return absl::OkStatus();
      },
      [] { return absl::OkStatus(); }));
  if (!state.exists()) {
    // The other services learn of cases from this log: an event of a case
    // it never had is a defect upstream, and nothing the case can keep.
    log::Warn("an upstream event names a case this service does not have",
              {{"upstream", SourceName(source)},
               {"position", absl::StrCat(event.position)},
               {"event_type", std::string(event.view.event_type)},
               {"case_id", case_id}});
    return eventlog::WriteRequest{};
  }
  MEND_ASSIGN_OR_RETURN(std::vector<DomainEvent> decided,
                        DecideUpstreamFact(state, *fact,
                                           CommandContext{.actor_id = "case",
                                                          .role = Role::kService,
                                                          .now = absl::Now()}));
  if (decided.empty()) return eventlog::WriteRequest{};

  std::vector<DecidedEvent> encoded;
  for (const DomainEvent& e : decided)
    encoded.push_back({e.type(), e.SerializePayload()});
  eventlog::StreamAppend append = UpstreamAppend(
      CaseStreamId(case_id), eventlog::ExpectedVersion::Exact(state.version),
      SourceName(source), event, "case", encoded);
  if (const auto* moved = std::get_if<case_v1::StageChanged>(&decided.back().event)) {
    log::Info("stage derived from an upstream event",
              {{"case_id", case_id},
               {"upstream", SourceName(source)},
               {"position", absl::StrCat(event.position)},
               {"stage", StageName(moved->to())}});
  }
  eventlog::WriteRequest write;
  write.appends.push_back(std::move(append));
  return write;
}

void CaseServiceImpl::Observed(const eventlog::WriteRequest& request,
                               const eventlog::WriteResult& /*result*/) {
  const std::string prefix = CaseStreamId("");
  for (const eventlog::StreamAppend& append : request.appends) {
    if (!append.stream_id.starts_with(prefix)) continue;
    const std::string case_id = append.stream_id.substr(prefix.size());
    if (absl::Status s = path_.Sync(case_id); !s.ok()) {
      log::Error("folding an upstream fact failed",
                 {{"case_id", case_id}, {"error", std::string(s.message())}});
    }
  }
}

}  // namespace mend::casesvc

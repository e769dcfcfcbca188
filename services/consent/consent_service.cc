#include "services/consent/consent_service.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/page_token.h"
#include "common/base/status_macros.h"
#include "common/eventlog/stream_records.h"
#include "common/observability/logging.h"
#include "common/runtime/uuid.h"
#include "services/consent/case_observer.h"
#include "services/consent/consent_decide.h"
#include "services/consent/consent_validation.h"
#include "services/consent/consent_view.h"
#include "services/consent/contact_decision.h"
#include "services/consent/contact_rule.h"

namespace mend::consentsvc {
namespace {

constexpr char kStreamPrefix[] = "consent-";
constexpr size_t kStreamPrefixLength = sizeof(kStreamPrefix) - 1;
constexpr int32_t kDefaultPageSize = 50;

CommandContext ContextOf(const Caller& caller) {
  return CommandContext{.actor_id = caller.subject, .role = caller.role};
}

// One decided event as the command path appends it.
template <typename Event>
absl::StatusOr<std::vector<DecidedEvent>> AsDecided(std::string_view type,
                                                    absl::StatusOr<Event> event) {
  if (!event.ok()) return event.status();
  std::vector<DecidedEvent> out(1);
  out[0].type = std::string(type);
  event->SerializeToString(&out[0].payload);
  return out;
}

}  // namespace

const MethodPolicy::Table& ConsentPolicy() {
  static const MethodPolicy::Table* const table =
      new MethodPolicy::Table(MethodPolicy::Methods(
          kConsentServicePrefix,
          {{{"RecordConsent", "WithdrawConsent"}, {Role::kFacilitator, Role::kManager}},
           {{"DecideContact"}, {Role::kFacilitator, Role::kService}},
           {{"GetConsents", "GetDecision", "ListDecisions", "ExplainDecision"},
            {Role::kFacilitator, Role::kManager, Role::kAuditor, Role::kService}}}));
  return *table;
}

ConsentServiceImpl::ConsentServiceImpl(ServiceRuntime* runtime)
    : runtime_(runtime),
      handler_(runtime, kConsentServicePrefix),
      causal_("consent", runtime->store()),
      path_(runtime->store(),
            Path::Hooks{.stream_prefix = kStreamPrefix,
                        .evolve =
                            [this](CaseFacts& facts, const ReplayedEvent& event) {
                              return Evolve(facts, event);
                            },
                        .version = [](const CaseFacts& facts) { return facts.version; },
                        .answer =
                            [](const CommandRecord& record, const CaseFacts& facts) {
                              Answer answer;
                              answer.result.set_case_id(record.aggregate_id);
                              answer.result.set_version(record.version);
                              answer.result.set_position(record.first_position);
                              if (!facts.decisions.empty() &&
                                  facts.decisions.back().position ==
                                      record.first_position) {
                                answer.decision = facts.decisions.back();
                              }
                              return answer;
                            }},
            NewUuid, absl::Now) {
  absl::StatusOr<metrics::CounterFamily*> family = runtime_->metrics().AddCounterFamily(
      "mend_contact_decisions_total", "Contact decisions made, by kind and outcome.",
      {"kind", "outcome"});
  if (family.ok()) {
    decisions_made_ = *family;
  } else {
    log::Error("cannot register the decisions metric",
               {{"error", std::string(family.status().message())}});
  }
}

BatchEffects ConsentServiceImpl::ObserveCase(absl::Span<const UpstreamEvent> events) {
  return Follower::HandleEach(
      events, [](const UpstreamEvent& event) -> absl::StatusOr<eventlog::WriteRequest> {
        MEND_ASSIGN_OR_RETURN(consent_v1::CaseEventObserved observed,
                              ObserveCaseRecord(event.position, event.bytes, event.view));
        return ObservationWrite(observed);
      });
}

void ConsentServiceImpl::Observed(const eventlog::WriteRequest& request,
                                  const eventlog::WriteResult& /*result*/) {
  // Deduplicated writes were folded already (replay); Sync is a no-op then.
  for (const eventlog::StreamAppend& append : request.appends) {
    if (!append.stream_id.starts_with(kStreamPrefix)) continue;
    const std::string case_id = append.stream_id.substr(kStreamPrefixLength);
    if (absl::Status s = path_.Sync(case_id); !s.ok()) {
      log::Error("folding an observed case event failed",
                 {{"case_id", case_id}, {"error", std::string(s.message())}});
    }
  }
}

absl::Status ConsentServiceImpl::Apply(const ReplayedEvent& event) {
  return path_.Apply(event);
}

absl::Status ConsentServiceImpl::Evolve(CaseFacts& facts, const ReplayedEvent& event) {
  const eventlog::RecordView& view = event.view;
  MEND_RETURN_IF_ERROR(
      consentsvc::Evolve(facts, ConsentLogEvent::Of(event.position, view)));
  if (view.event_type == kContactDecisionMadeType) {
    absl::MutexLock lock(&decisions_mu_);
    decision_cases_[facts.decisions.back().decision.decision_id()] =
        std::string(view.stream_id.substr(kStreamPrefixLength));
  }
  return absl::OkStatus();
}

uint64_t ConsentServiceImpl::case_position() const {
  return case_follower_ == nullptr ? 0 : case_follower_->handled_position();
}

absl::Status ConsentServiceImpl::ReadFacts(
    const std::string& case_id, const Caller& caller,
    absl::FunctionRef<absl::Status(const CaseFacts& facts)> read) {
  return path_.Read(
      case_id,
      [&](const CaseFacts& facts) -> absl::Status {
        // Who may read first: an unallocated facilitator hears the same
        // whether the case exists or not (I5).
        MEND_RETURN_IF_ERROR(CheckCanRead(facts, case_id, ContextOf(caller)));
        if (!facts.case_known()) {
          return absl::NotFoundError(absl::StrCat(
              "case ", Quoted(case_id),
              " is not known to the consent service (case log handled up to ",
              case_position(), "; pass a causal token if the case is new)"));
        }
        return read(facts);
      },
      [&]() -> absl::Status {
        MEND_RETURN_IF_ERROR(CheckCanRead(CaseFacts(), case_id, ContextOf(caller)));
        return absl::NotFoundError(
            absl::StrCat("case ", Quoted(case_id),
                         " is not known to the consent service (case log handled up to ",
                         case_position(), "; pass a causal token if the case is new)"));
      });
}

absl::StatusOr<DecisionRecord> ConsentServiceImpl::ReadableDecision(
    const std::string& decision_id, const Caller& caller) {
  std::string case_id;
  {
    absl::MutexLock l(&decisions_mu_);
    auto it = decision_cases_.find(decision_id);
    if (it != decision_cases_.end()) case_id = it->second;
  }
  if (case_id.empty())
    return absl::NotFoundError(absl::StrCat("no decision ", Quoted(decision_id)));
  DecisionRecord found;
  MEND_RETURN_IF_ERROR(
      ReadFacts(case_id, caller, [&](const CaseFacts& facts) -> absl::Status {
        const DecisionRecord* d = facts.FindDecision(decision_id);
        if (d == nullptr) {
          return absl::InternalError(absl::StrCat("decision ", Quoted(decision_id),
                                                  " is indexed but not in its case"));
        }
        found = *d;
        return absl::OkStatus();
      }));
  return found;
}

void ConsentServiceImpl::CountDecision(const DecisionRecord& d) {
  if (decisions_made_ != nullptr) {
    absl::StatusOr<metrics::Counter*> counter =
        decisions_made_->WithLabels({common_v1::ContactKind_Name(d.decision.kind()),
                                     consent_v1::Outcome_Name(d.decision.outcome())});
    if (counter.ok()) (*counter)->Increment();
  }
  log::Info("contact decision",
            {{"decision_id", d.decision.decision_id()},
             {"case_id", d.decision.case_id()},
             {"kind", common_v1::ContactKind_Name(d.decision.kind())},
             {"outcome", consent_v1::Outcome_Name(d.decision.outcome())},
             {"position", absl::StrCat(d.position)}});
}

// ---------------------------------------------------------------------------
// The method table: per method, validation, the decide call and the answer.

template <typename Request, typename DecideFn>
absl::StatusOr<CommandOutcome<ConsentServiceImpl::Answer>> ConsentServiceImpl::Run(
    const Call& call, const Request& request, std::optional<uint64_t> expected_version,
    std::string_view event_type, DecideFn decide) {
  return path_.Execute(
      CommandFor(call, request, request.case_id(), expected_version),
      [&](const CaseFacts& facts, const CommandContext& ctx, const std::string&) {
        return AsDecided(event_type, decide(facts, ctx));
      });
}

grpc::ServerUnaryReactor* ConsentServiceImpl::RecordConsent(
    grpc::CallbackServerContext* context, const consent_v1::RecordConsentRequest* request,
    consent_v1::CommandResult* response) {
  return handler_.Unary<consent_v1::CommandResult>(
      context, "RecordConsent", response,
      [&](const Call& call) -> absl::StatusOr<consent_v1::CommandResult> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        MEND_RETURN_IF_ERROR(causal_.Wait(request->causal_token(), call.deadline));
        const RecordConsentCommand command{
            .case_id = request->case_id(),
            .consent_id = NewUuid(),
            .participant_id = request->participant_id(),
            .scope = request->scope(),
            .answer = request->answer(),
            .informed = request->informed(),
            .requested_by_participant = request->requested_by_participant()};
        MEND_ASSIGN_OR_RETURN(
            auto outcome,
            Run(call, *request, ExpectedVersionOf(*request), kConsentRecordedType,
                [&](const CaseFacts& facts, const CommandContext& ctx) {
                  return DecideRecordConsent(facts, command, ctx);
                }));
        return outcome.answer.result;
      });
}

grpc::ServerUnaryReactor* ConsentServiceImpl::WithdrawConsent(
    grpc::CallbackServerContext* context,
    const consent_v1::WithdrawConsentRequest* request,
    consent_v1::CommandResult* response) {
  return handler_.Unary<consent_v1::CommandResult>(
      context, "WithdrawConsent", response,
      [&](const Call& call) -> absl::StatusOr<consent_v1::CommandResult> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        MEND_RETURN_IF_ERROR(causal_.Wait(request->causal_token(), call.deadline));
        const WithdrawConsentCommand command{.case_id = request->case_id(),
                                             .participant_id = request->participant_id(),
                                             .scope = request->scope(),
                                             .all_scopes = request->all_scopes(),
                                             .informed = request->informed()};
        MEND_ASSIGN_OR_RETURN(
            auto outcome,
            Run(call, *request, ExpectedVersionOf(*request), kConsentWithdrawnType,
                [&](const CaseFacts& facts, const CommandContext& ctx) {
                  return DecideWithdrawConsent(facts, command, ctx);
                }));
        if (outcome.appended) {
          log::Info("consent withdrawn",
                    {{"case_id", outcome.record.aggregate_id},
                     {"position", absl::StrCat(outcome.record.first_position)}});
        }
        return outcome.answer.result;
      });
}

grpc::ServerUnaryReactor* ConsentServiceImpl::GetConsents(
    grpc::CallbackServerContext* context, const consent_v1::GetConsentsRequest* request,
    consent_v1::GetConsentsResponse* response) {
  return handler_.Unary<consent_v1::GetConsentsResponse>(
      context, "GetConsents", response,
      [&](const Call& call) -> absl::StatusOr<consent_v1::GetConsentsResponse> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        MEND_RETURN_IF_ERROR(causal_.Wait(request->causal_token(), call.deadline));
        consent_v1::GetConsentsResponse out;
        MEND_RETURN_IF_ERROR(
            ReadFacts(request->case_id(), call.caller, [&](const CaseFacts& facts) {
              out = ConsentsView(facts);
              return absl::OkStatus();
            }));
        return out;
      });
}

grpc::ServerUnaryReactor* ConsentServiceImpl::DecideContact(
    grpc::CallbackServerContext* context, const consent_v1::DecideContactRequest* request,
    consent_v1::ContactDecision* response) {
  return handler_.Unary<consent_v1::ContactDecision>(
      context, "DecideContact", response,
      [&](const Call& call) -> absl::StatusOr<consent_v1::ContactDecision> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        // The decision id and the case position handled are set below,
        // after the causal wait.
        DecideContactCommand command{.case_id = request->case_id(),
                                     .decision_id = "",
                                     .kind = request->kind(),
                                     .victim_id = request->victim_id(),
                                     .facilitator_id = request->facilitator_id(),
                                     .purpose = request->purpose(),
                                     .handled_case_position = 0,
                                     .causal_token = request->causal_token()};
        // Who asks for whom is known before the case: refuse before waiting.
        MEND_RETURN_IF_ERROR(AskingFacilitator(command, ContextOf(call.caller)).status());
        // I1 "at that moment": without a case position from the caller, the
        // case log's head now.
        MEND_RETURN_IF_ERROR(causal_.Wait(request->causal_token(), call.deadline,
                                          CausalWaiter::kUpstreamHeadIfAbsent));
        // Read before the facts: every case fact up to it is in the stream.
        command.handled_case_position = case_position();
        command.decision_id = NewUuid();
        MEND_ASSIGN_OR_RETURN(auto outcome,
                              Run(call, *request, std::nullopt, kContactDecisionMadeType,
                                  [&](const CaseFacts& facts, const CommandContext& ctx) {
                                    return consentsvc::DecideContact(facts, command, ctx);
                                  }));
        if (!outcome.answer.decision.has_value()) {
          return absl::InternalError(absl::StrCat(
              "decision at position ", outcome.record.first_position, " was not folded"));
        }
        if (outcome.appended) CountDecision(*outcome.answer.decision);
        return DecisionView(*outcome.answer.decision);
      });
}

grpc::ServerUnaryReactor* ConsentServiceImpl::GetDecision(
    grpc::CallbackServerContext* context, const consent_v1::GetDecisionRequest* request,
    consent_v1::ContactDecision* response) {
  return handler_.Unary<consent_v1::ContactDecision>(
      context, "GetDecision", response,
      [&](const Call& call) -> absl::StatusOr<consent_v1::ContactDecision> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        MEND_ASSIGN_OR_RETURN(DecisionRecord d,
                              ReadableDecision(request->decision_id(), call.caller));
        return DecisionView(d);
      });
}

grpc::ServerUnaryReactor* ConsentServiceImpl::ListDecisions(
    grpc::CallbackServerContext* context, const consent_v1::ListDecisionsRequest* request,
    consent_v1::ListDecisionsResponse* response) {
  return handler_.Unary<consent_v1::ListDecisionsResponse>(
      context, "ListDecisions", response,
      [&](const Call& call) -> absl::StatusOr<consent_v1::ListDecisionsResponse> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        // The key is the consent-log position of the last decision given.
        MEND_ASSIGN_OR_RETURN(
            uint64_t after,
            DecodePositionPageToken(kListDecisionsMethod, request->page_token()));
        const int32_t page_size =
            request->page_size() == 0 ? kDefaultPageSize : request->page_size();
        consent_v1::ListDecisionsResponse out;
        MEND_RETURN_IF_ERROR(
            ReadFacts(request->case_id(), call.caller, [&](const CaseFacts& facts) {
              out = DecisionsPage(facts, after, page_size);
              return absl::OkStatus();
            }));
        return out;
      });
}

grpc::ServerUnaryReactor* ConsentServiceImpl::ExplainDecision(
    grpc::CallbackServerContext* context,
    const consent_v1::ExplainDecisionRequest* request,
    consent_v1::ExplainDecisionResponse* response) {
  return handler_.Unary<consent_v1::ExplainDecisionResponse>(
      context, "ExplainDecision", response,
      [&](const Call& call) -> absl::StatusOr<consent_v1::ExplainDecisionResponse> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        MEND_ASSIGN_OR_RETURN(DecisionRecord recorded,
                              ReadableDecision(request->decision_id(), call.caller));
        // The facts as they were: the stream re-read from the log up to the
        // decision (owned copies: the records do not outlive the callback).
        struct Owned {
          uint64_t position, stream_version;
          std::string event_type, payload;
          int64_t recorded_unix_micros;
        };
        std::vector<Owned> owned;
        if (recorded.stream_version >= 2) {
          MEND_RETURN_IF_ERROR(eventlog::ForEachStreamRecord(
              *runtime_->store(), ConsentStreamId(recorded.decision.case_id()), 1,
              recorded.stream_version - 1,
              [&](const eventlog::RawRecord& record, const eventlog::RecordView& view) {
                owned.push_back({record.position, view.stream_version,
                                 std::string(view.event_type), std::string(view.payload),
                                 view.recorded_unix_micros});
                return absl::OkStatus();
              }));
        }
        std::vector<ConsentLogEvent> before;
        before.reserve(owned.size());
        for (const Owned& o : owned) {
          before.push_back({o.position, o.stream_version, o.event_type, o.payload,
                            o.recorded_unix_micros});
        }
        MEND_ASSIGN_OR_RETURN(Explanation explained,
                              consentsvc::ExplainDecision(recorded, before));
        return ExplanationView(recorded, std::move(explained));
      });
}

}  // namespace mend::consentsvc

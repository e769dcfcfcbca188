#include "services/consent/consent_service.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/rpc/grpc_reply.h"
#include "common/observability/logging.h"
#include "common/eventlog/record_codec.h"
#include "common/rpc/status_convert.h"
#include "common/base/status_macros.h"
#include "common/eventlog/stream_records.h"
#include "common/runtime/uuid.h"
#include "services/consent/case_observer.h"
#include "services/consent/consent_decide.h"
#include "services/consent/consent_validation.h"
#include "services/consent/contact_decision.h"
#include "services/consent/contact_rule.h"

namespace mend::consentsvc {
namespace {

using eventlog::ExpectedVersion;
using eventlog::NewEvent;

constexpr char kStreamPrefix[] = "consent-";
constexpr size_t kStreamPrefixLength = sizeof(kStreamPrefix) - 1;
constexpr char kRequestPrefix[] = "req:";
constexpr size_t kRequestPrefixLength = sizeof(kRequestPrefix) - 1;
constexpr int32_t kDefaultPageSize = 50;

std::string FullMethod(std::string_view method) {
  return absl::StrCat(kConsentServicePrefix, std::string(method));
}

std::string Quote(std::string_view s) { return absl::StrCat("\"", std::string(s), "\""); }

std::optional<uint64_t> ExpectedOf(bool has, uint64_t value) {
  return has ? std::optional<uint64_t>(value) : std::nullopt;
}

// The command a request's event records, by its type.
std::string_view MethodOf(std::string_view event_type) {
  if (event_type == kConsentRecordedType) return "RecordConsent";
  if (event_type == kConsentWithdrawnType) return "WithdrawConsent";
  if (event_type == kContactDecisionMadeType) return "DecideContact";
  return "";
}

CommandContext ContextOf(const Caller& caller) {
  return CommandContext{.actor_id = caller.subject, .role = caller.role};
}

NewEvent CommandEvent(const std::string& request_id, const Caller& caller,
                      std::string_view type, const google::protobuf::Message& payload) {
  NewEvent event;
  event.event_id = absl::StrCat(kRequestPrefix, request_id);
  event.event_type = std::string(type);
  payload.SerializeToString(&event.payload);
  event.actor_id = caller.subject;
  event.actor_role = std::string(RoleName(caller.role));
  event.correlation_id = request_id;
  return event;
}

consent_v1::ContactDecision ToDecision(const DecisionRecord& record) {
  consent_v1::ContactDecision out;
  *out.mutable_decision() = record.decision;
  out.set_position(record.position);
  out.set_decided_unix_micros(record.decided_unix_micros);
  return out;
}

// Every participant, every scope, its history: the GetConsents answer.
void BuildConsents(const CaseFacts& facts, consent_v1::GetConsentsResponse* response) {
  consent_v1::GetConsentsResponse& out = *response;
  out.set_case_id(facts.case_id);
  out.set_version(facts.version);
  out.set_case_position(facts.last_case_position);
  for (const ObservedParticipant& p : facts.case_state.participants) {
    consent_v1::ParticipantConsents* pc = out.add_participants();
    pc->set_participant_id(p.participant_id);
    pc->set_role(p.role);
    pc->set_erased(p.erased);
    for (int s = consent_v1::ConsentScope_MIN; s <= consent_v1::ConsentScope_MAX; ++s) {
      const auto scope = static_cast<consent_v1::ConsentScope>(s);
      if (scope == consent_v1::CONSENT_SCOPE_UNSPECIFIED ||
          !consent_v1::ConsentScope_IsValid(s)) {
        continue;
      }
      consent_v1::ScopeConsents* sc = pc->add_scopes();
      sc->set_scope(scope);
      auto pit = facts.consents.find(p.participant_id);
      if (pit == facts.consents.end()) continue;
      auto sit = pit->second.find(scope);
      if (sit == pit->second.end()) continue;
      for (const ConsentEntryFacts& e : sit->second) {
        consent_v1::ConsentEntry* entry = sc->add_history();
        entry->set_status(e.status);
        entry->set_consent_id(e.consent_id);
        *entry->mutable_informed() = e.informed;
        entry->set_requested_by_participant(e.requested_by_participant);
        entry->set_recorded_by(e.recorded_by);
        entry->set_recorded_unix_micros(e.recorded_unix_micros);
        entry->set_position(e.position);
      }
      if (!sit->second.empty()) sc->set_status(sit->second.back().status);
    }
  }
}

}  // namespace

const MethodPolicy::Table& ConsentPolicy() {
  static const MethodPolicy::Table* const table = [] {
    const std::vector<Role> commands = {Role::kFacilitator, Role::kManager};
    const std::vector<Role> decide = {Role::kFacilitator, Role::kService};
    const std::vector<Role> reads = {Role::kFacilitator, Role::kManager, Role::kAuditor,
                                     Role::kService};
    auto* t = new MethodPolicy::Table;
    for (const char* method : {"RecordConsent", "WithdrawConsent"}) {
      t->push_back({FullMethod(method), commands});
    }
    t->push_back({FullMethod("DecideContact"), decide});
    for (const char* method :
         {"GetConsents", "GetDecision", "ListDecisions", "ExplainDecision"}) {
      t->push_back({FullMethod(method), reads});
    }
    return t;
  }();
  return *table;
}

ConsentServiceImpl::ConsentServiceImpl(ServiceRuntime* runtime) : runtime_(runtime) {
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
  // Deduplicated writes were folded already (replay); CatchUp is a no-op then.
  for (const eventlog::StreamAppend& append : request.appends) {
    if (!append.stream_id.starts_with(kStreamPrefix)) continue;
    const std::string case_id = append.stream_id.substr(kStreamPrefixLength);
    std::shared_ptr<absl::Mutex> lock = case_locks_.For(case_id);
    absl::MutexLock l(lock.get());
    if (absl::Status s = CatchUp(case_id); !s.ok()) {
      log::Error("folding an observed case event failed",
                 {{"case_id", case_id}, {"error", std::string(s.message())}});
    }
  }
}

absl::Status ConsentServiceImpl::Apply(const ReplayedEvent& event) {
  absl::MutexLock lock(&mu_);
  return ApplyLocked(event);
}

absl::Status ConsentServiceImpl::ApplyLocked(const ReplayedEvent& event) {
  const eventlog::RecordView& view = event.view;
  if (!view.stream_id.starts_with(kStreamPrefix) ||
      view.stream_id.size() == kStreamPrefixLength) {
    return absl::DataLossError(absl::StrCat("position ", event.position, ": stream ",
                                            Quote(view.stream_id),
                                            " is not a consent stream"));
  }
  const std::string case_id(view.stream_id.substr(kStreamPrefixLength));
  CaseFacts& facts = cases_[case_id];
  MEND_RETURN_IF_ERROR(
      Evolve(facts, ConsentLogEvent{.position = event.position,
                                    .stream_version = view.stream_version,
                                    .event_type = view.event_type,
                                    .payload = view.payload,
                                    .recorded_unix_micros = view.recorded_unix_micros}));
  if (view.event_type == kContactDecisionMadeType) {
    decision_cases_[facts.decisions.back().decision.decision_id()] = case_id;
  }
  if (view.event_id.starts_with(kRequestPrefix)) {
    const std::string request_id(view.event_id.substr(kRequestPrefixLength));
    RequestRecord& record = requests_[request_id];
    record.method = std::string(MethodOf(view.event_type));
    record.case_id = case_id;
    record.position = event.position;
    record.version = view.stream_version;
  }
  return absl::OkStatus();
}

absl::Status ConsentServiceImpl::CatchUp(const std::string& case_id) {
  uint64_t version = 0;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = cases_.find(case_id); it != cases_.end()) version = it->second.version;
  }
  return eventlog::ForEachStreamRecord(
      *runtime_->store(), ConsentStreamId(case_id), version + 1, /*to_version=*/0,
      [&](const eventlog::RawRecord& record, const eventlog::RecordView& view) {
        return Apply(ReplayedEvent{record.position, record.bytes, view});
      });
}

const CaseFacts& ConsentServiceImpl::FactsUnderCaseLock(const std::string& case_id) {
  static const CaseFacts* const kUnknown = new CaseFacts;
  absl::MutexLock lock(&mu_);
  auto it = cases_.find(case_id);
  // std::map: the element stays where it is while others are added, and
  // only holders of this case's lock change it.
  return it == cases_.end() ? *kUnknown : it->second;
}

uint64_t ConsentServiceImpl::case_position() const {
  return case_follower_ == nullptr ? 0 : case_follower_->handled_position();
}

absl::Status ConsentServiceImpl::WaitCausal(const common_v1::CausalToken& token,
                                            absl::Time call_deadline) const {
  // Give up a little before the call's deadline, so the caller hears why
  // (UNAVAILABLE and how far the log has got) rather than DEADLINE_EXCEEDED.
  const absl::Duration remaining = call_deadline - absl::Now();
  const absl::Time deadline =
      call_deadline -
      std::clamp(remaining / 10, absl::ZeroDuration(), absl::Milliseconds(100));
  if (token.case_position() > 0) {
    if (case_follower_ == nullptr) {
      return absl::FailedPreconditionError(
          "this consent service does not follow the case log (no --upstream_case)");
    }
    MEND_RETURN_IF_ERROR(case_follower_->WaitForHandled(token.case_position(), deadline));
  }
  if (token.consent_position() > 0) {
    const uint64_t head =
        runtime_->store()->WaitForHeadAbove(token.consent_position() - 1, deadline);
    if (head < token.consent_position()) {
      return absl::UnavailableError(
          absl::StrCat("the consent log has not reached position ",
                       token.consent_position(), " (its head is ", head, "); retry"));
    }
  }
  return absl::OkStatus();
}

consent_v1::CommandResult ConsentServiceImpl::ToCommandResult(
    const RequestRecord& record) {
  consent_v1::CommandResult result;
  result.set_case_id(record.case_id);
  result.set_version(record.version);
  result.set_position(record.position);
  return result;
}

absl::StatusOr<ConsentServiceImpl::RequestRecord> ConsentServiceImpl::Execute(
    const CommandCall& call, const Decider& decide) {
  std::shared_ptr<absl::Mutex> case_lock = case_locks_.For(call.case_id);
  absl::MutexLock lock(case_lock.get());
  for (;;) {
    MEND_RETURN_IF_ERROR(CatchUp(call.case_id));
    {
      absl::MutexLock l(&mu_);
      if (auto it = requests_.find(call.request_id); it != requests_.end()) {
        const RequestRecord& record = it->second;
        if (record.method != call.method || record.case_id != call.case_id) {
          return absl::AlreadyExistsError(
              absl::StrCat("request_id ", Quote(call.request_id), " was used for ",
                           record.method, " on case ", Quote(record.case_id),
                           "; a new command needs a new request_id"));
        }
        return record;
      }
    }
    const CaseFacts& facts = FactsUnderCaseLock(call.case_id);
    if (call.expected_version.has_value() && *call.expected_version != facts.version) {
      return absl::AbortedError(
          absl::StrCat(std::string(call.method), ": case ", Quote(call.case_id),
                       " is at consent version ", facts.version, ", not the expected ",
                       *call.expected_version));
    }
    MEND_ASSIGN_OR_RETURN(NewEvent event, decide(facts));
    const ExpectedVersion expected = facts.exists()
                                         ? ExpectedVersion::Exact(facts.version)
                                         : ExpectedVersion::NoStream();
    absl::StatusOr<eventlog::AppendResult> appended = runtime_->store()->Append(
        ConsentStreamId(call.case_id), expected, {std::move(event)});
    if (absl::IsAborted(appended.status()) && !call.expected_version.has_value() &&
        absl::Now() < call.deadline) {
      continue;  // a case fact landed meanwhile: decide again on it
    }
    if (!appended.ok()) return appended.status();
    // Fold what the store recorded (positions and times as stored), so the
    // state equals the one a restart replays.
    MEND_RETURN_IF_ERROR(CatchUp(call.case_id));
    absl::MutexLock l(&mu_);
    auto it = requests_.find(call.request_id);
    if (it == requests_.end()) {
      return absl::InternalError(absl::StrCat("request ", Quote(call.request_id),
                                              " was appended but not folded"));
    }
    RequestRecord record = it->second;
    record.appended = !appended->deduplicated;
    return record;
  }
}

absl::Status ConsentServiceImpl::ReadFacts(
    const std::string& case_id, const Caller& caller,
    const std::function<absl::Status(const CaseFacts& facts)>& read) {
  static const CaseFacts* const kUnknown = new CaseFacts;
  absl::MutexLock lock(&mu_);
  auto it = cases_.find(case_id);
  // Who may read first: an unallocated facilitator hears the same whether
  // the case exists or not (I5).
  MEND_RETURN_IF_ERROR(CheckCanRead(it == cases_.end() ? *kUnknown : it->second, case_id,
                                    ContextOf(caller)));
  if (it == cases_.end() || !it->second.case_known()) {
    return absl::NotFoundError(
        absl::StrCat("case ", Quote(case_id),
                     " is not known to the consent service (case log handled up to ",
                     case_position(), "; pass a causal token if the case is new)"));
  }
  return read(it->second);
}

absl::StatusOr<DecisionRecord> ConsentServiceImpl::ReadableDecision(
    const std::string& decision_id, const Caller& caller) {
  std::string case_id;
  {
    absl::MutexLock l(&mu_);
    auto it = decision_cases_.find(decision_id);
    if (it != decision_cases_.end()) case_id = it->second;
  }
  if (case_id.empty())
    return absl::NotFoundError(absl::StrCat("no decision ", Quote(decision_id)));
  DecisionRecord found;
  MEND_RETURN_IF_ERROR(
      ReadFacts(case_id, caller, [&](const CaseFacts& facts) -> absl::Status {
        const DecisionRecord* d = facts.FindDecision(decision_id);
        if (d == nullptr) {
          return absl::InternalError(absl::StrCat("decision ", Quote(decision_id),
                                                  " is indexed but not in its case"));
        }
        found = *d;
        return absl::OkStatus();
      }));
  return found;
}

grpc::ServerUnaryReactor* ConsentServiceImpl::RecordConsent(
    grpc::CallbackServerContext* context, const consent_v1::RecordConsentRequest* request,
    consent_v1::CommandResult* response) {
  auto run = [&]() -> absl::StatusOr<consent_v1::CommandResult> {
    MEND_ASSIGN_OR_RETURN(Caller caller,
                          runtime_->Authorize(*context, FullMethod("RecordConsent")));
    MEND_RETURN_IF_ERROR(Validate(*request));
    const absl::Time deadline = runtime_->Deadline(*context);
    MEND_RETURN_IF_ERROR(WaitCausal(request->causal_token(), deadline));
    const std::string consent_id = NewUuid();
    MEND_ASSIGN_OR_RETURN(
        RequestRecord record,
        Execute(
            CommandCall{.method = "RecordConsent",
                        .request_id = request->request_id(),
                        .case_id = request->case_id(),
                        .expected_version = ExpectedOf(request->has_expected_version(),
                                                       request->expected_version()),
                        .deadline = deadline},
            [&](const CaseFacts& facts) -> absl::StatusOr<NewEvent> {
              RecordConsentCommand command{
                  .case_id = request->case_id(),
                  .consent_id = consent_id,
                  .participant_id = request->participant_id(),
                  .scope = request->scope(),
                  .answer = request->answer(),
                  .informed = request->informed(),
                  .requested_by_participant = request->requested_by_participant()};
              MEND_ASSIGN_OR_RETURN(
                  consent_v1::ConsentRecorded e,
                  DecideRecordConsent(facts, command, ContextOf(caller)));
              return CommandEvent(request->request_id(), caller, kConsentRecordedType, e);
            }));
    return ToCommandResult(record);
  };
  return Reply(context, run(), response);
}

grpc::ServerUnaryReactor* ConsentServiceImpl::WithdrawConsent(
    grpc::CallbackServerContext* context,
    const consent_v1::WithdrawConsentRequest* request,
    consent_v1::CommandResult* response) {
  auto run = [&]() -> absl::StatusOr<consent_v1::CommandResult> {
    MEND_ASSIGN_OR_RETURN(Caller caller,
                          runtime_->Authorize(*context, FullMethod("WithdrawConsent")));
    MEND_RETURN_IF_ERROR(Validate(*request));
    const absl::Time deadline = runtime_->Deadline(*context);
    MEND_RETURN_IF_ERROR(WaitCausal(request->causal_token(), deadline));
    MEND_ASSIGN_OR_RETURN(
        RequestRecord record,
        Execute(
            CommandCall{.method = "WithdrawConsent",
                        .request_id = request->request_id(),
                        .case_id = request->case_id(),
                        .expected_version = ExpectedOf(request->has_expected_version(),
                                                       request->expected_version()),
                        .deadline = deadline},
            [&](const CaseFacts& facts) -> absl::StatusOr<NewEvent> {
              WithdrawConsentCommand command{.case_id = request->case_id(),
                                             .participant_id = request->participant_id(),
                                             .scope = request->scope(),
                                             .all_scopes = request->all_scopes(),
                                             .informed = request->informed()};
              MEND_ASSIGN_OR_RETURN(
                  consent_v1::ConsentWithdrawn e,
                  DecideWithdrawConsent(facts, command, ContextOf(caller)));
              return CommandEvent(request->request_id(), caller, kConsentWithdrawnType,
                                  e);
            }));
    log::Info("consent withdrawn",
              {{"case_id", record.case_id}, {"position", absl::StrCat(record.position)}});
    return ToCommandResult(record);
  };
  return Reply(context, run(), response);
}

grpc::ServerUnaryReactor* ConsentServiceImpl::GetConsents(
    grpc::CallbackServerContext* context, const consent_v1::GetConsentsRequest* request,
    consent_v1::GetConsentsResponse* response) {
  auto run = [&]() -> absl::StatusOr<consent_v1::GetConsentsResponse> {
    MEND_ASSIGN_OR_RETURN(Caller caller,
                          runtime_->Authorize(*context, FullMethod("GetConsents")));
    MEND_RETURN_IF_ERROR(Validate(*request));
    MEND_RETURN_IF_ERROR(
        WaitCausal(request->causal_token(), runtime_->Deadline(*context)));
    consent_v1::GetConsentsResponse out;
    MEND_RETURN_IF_ERROR(
        ReadFacts(request->case_id(), caller, [&](const CaseFacts& facts) {
          BuildConsents(facts, &out);
          return absl::OkStatus();
        }));
    return out;
  };
  return Reply(context, run(), response);
}

grpc::ServerUnaryReactor* ConsentServiceImpl::DecideContact(
    grpc::CallbackServerContext* context, const consent_v1::DecideContactRequest* request,
    consent_v1::ContactDecision* response) {
  auto run = [&]() -> absl::StatusOr<consent_v1::ContactDecision> {
    MEND_ASSIGN_OR_RETURN(Caller caller,
                          runtime_->Authorize(*context, FullMethod("DecideContact")));
    MEND_RETURN_IF_ERROR(Validate(*request));
    DecideContactCommand command{.case_id = request->case_id(),
                                 .kind = request->kind(),
                                 .victim_id = request->victim_id(),
                                 .facilitator_id = request->facilitator_id(),
                                 .purpose = request->purpose(),
                                 .causal_token = request->causal_token()};
    // Who asks for whom is known before the case: refuse before waiting.
    MEND_RETURN_IF_ERROR(AskingFacilitator(command, ContextOf(caller)).status());
    const absl::Time deadline = runtime_->Deadline(*context);
    MEND_RETURN_IF_ERROR(WaitCausal(request->causal_token(), deadline));
    // Read before the facts: every case fact up to it is in the stream.
    command.handled_case_position = case_position();
    command.decision_id = NewUuid();
    MEND_ASSIGN_OR_RETURN(
        RequestRecord record,
        Execute(CommandCall{.method = "DecideContact",
                            .request_id = request->request_id(),
                            .case_id = request->case_id(),
                            .expected_version = std::nullopt,
                            .deadline = deadline},
                [&](const CaseFacts& facts) -> absl::StatusOr<NewEvent> {
                  CommandContext ctx = ContextOf(caller);
                  ctx.now = absl::Now();
                  MEND_ASSIGN_OR_RETURN(consent_v1::ContactDecisionMade d,
                                        consentsvc::DecideContact(facts, command, ctx));
                  return CommandEvent(request->request_id(), caller,
                                      kContactDecisionMadeType, d);
                }));
    absl::MutexLock l(&mu_);
    const CaseFacts& facts = cases_[record.case_id];
    for (const DecisionRecord& d : facts.decisions) {
      if (d.position == record.position) {
        if (!record.appended)
          return ToDecision(d);  // a retry: already counted and logged
        if (decisions_made_ != nullptr) {
          absl::StatusOr<metrics::Counter*> counter = decisions_made_->WithLabels(
              {common_v1::ContactKind_Name(d.decision.kind()),
               consent_v1::Outcome_Name(d.decision.outcome())});
          if (counter.ok()) (*counter)->Increment();
        }
        log::Info("contact decision",
                  {{"decision_id", d.decision.decision_id()},
                   {"case_id", d.decision.case_id()},
                   {"kind", common_v1::ContactKind_Name(d.decision.kind())},
                   {"outcome", consent_v1::Outcome_Name(d.decision.outcome())},
                   {"position", absl::StrCat(d.position)}});
        return ToDecision(d);
      }
    }
    return absl::InternalError(absl::StrCat("decision at position ", record.position,
                                            " was appended but not folded"));
  };
  return Reply(context, run(), response);
}

grpc::ServerUnaryReactor* ConsentServiceImpl::GetDecision(
    grpc::CallbackServerContext* context, const consent_v1::GetDecisionRequest* request,
    consent_v1::ContactDecision* response) {
  auto run = [&]() -> absl::StatusOr<consent_v1::ContactDecision> {
    MEND_ASSIGN_OR_RETURN(Caller caller,
                          runtime_->Authorize(*context, FullMethod("GetDecision")));
    MEND_RETURN_IF_ERROR(Validate(*request));
    MEND_ASSIGN_OR_RETURN(DecisionRecord d,
                          ReadableDecision(request->decision_id(), caller));
    return ToDecision(d);
  };
  return Reply(context, run(), response);
}

grpc::ServerUnaryReactor* ConsentServiceImpl::ListDecisions(
    grpc::CallbackServerContext* context, const consent_v1::ListDecisionsRequest* request,
    consent_v1::ListDecisionsResponse* response) {
  auto run = [&]() -> absl::StatusOr<consent_v1::ListDecisionsResponse> {
    MEND_ASSIGN_OR_RETURN(Caller caller,
                          runtime_->Authorize(*context, FullMethod("ListDecisions")));
    MEND_RETURN_IF_ERROR(Validate(*request));
    // The page token is the consent-log position of the last decision given.
    uint64_t after = 0;
    if (!request->page_token().empty() &&
        !absl::SimpleAtoi(request->page_token(), &after)) {
      return absl::InvalidArgumentError(
          "page_token: not a token from a previous ListDecisions response");
    }
    const int32_t page_size =
        request->page_size() == 0 ? kDefaultPageSize : request->page_size();
    consent_v1::ListDecisionsResponse out;
    MEND_RETURN_IF_ERROR(
        ReadFacts(request->case_id(), caller, [&](const CaseFacts& facts) {
          auto d = std::upper_bound(facts.decisions.begin(), facts.decisions.end(), after,
                                    [](uint64_t position, const DecisionRecord& r) {
                                      return position < r.position;
                                    });
          for (; d != facts.decisions.end(); ++d) {
            if (out.decisions_size() == page_size) {
              out.set_next_page_token(absl::StrCat(out.decisions().rbegin()->position()));
              break;
            }
            *out.add_decisions() = ToDecision(*d);
          }
          return absl::OkStatus();
        }));
    return out;
  };
  return Reply(context, run(), response);
}

grpc::ServerUnaryReactor* ConsentServiceImpl::ExplainDecision(
    grpc::CallbackServerContext* context,
    const consent_v1::ExplainDecisionRequest* request,
    consent_v1::ExplainDecisionResponse* response) {
  auto run = [&]() -> absl::StatusOr<consent_v1::ExplainDecisionResponse> {
    MEND_ASSIGN_OR_RETURN(Caller caller,
                          runtime_->Authorize(*context, FullMethod("ExplainDecision")));
    MEND_RETURN_IF_ERROR(Validate(*request));
    MEND_ASSIGN_OR_RETURN(DecisionRecord recorded,
                          ReadableDecision(request->decision_id(), caller));
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
    consent_v1::ExplainDecisionResponse out;
    *out.mutable_decision() = ToDecision(recorded);
    *out.mutable_recomputed() = std::move(explained.recomputed);
    out.set_same_outcome(explained.same_outcome);
    out.set_same_reasons(explained.same_reasons);
    out.set_same_consulted(explained.same_consulted);
    out.set_facts_until_position(explained.facts_until_position);
    return out;
  };
  return Reply(context, run(), response);
}

}  // namespace mend::consentsvc

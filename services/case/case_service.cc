#include "services/case/case_service.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/rpc/grpc_reply.h"
#include "common/eventlog/record_codec.h"
#include "common/rpc/status_convert.h"
#include "common/base/status_macros.h"
#include "common/eventlog/stream_records.h"
#include "common/runtime/uuid.h"
#include "services/case/case_validation.h"
#include "services/case/case_view.h"

namespace mend::casesvc {
namespace {

using eventlog::ExpectedVersion;
using eventlog::NewEvent;

constexpr int kDefaultPageSize = 50;

std::string FullMethod(std::string_view method) {
  return absl::StrCat(kCaseServicePrefix, std::string(method));
}

std::string Quote(std::string_view s) { return absl::StrCat("\"", std::string(s), "\""); }

// The command whose first event is of `type` (event ids "<request_id>/0"
// name the command's first event); empty if no command starts so.
std::string_view CommandOfFirstEvent(std::string_view type) {
  static const auto* const commands = new absl::flat_hash_map<std::string, std::string>{
      {"mend.case.v1.CaseReferred", "ReferCase"},
      {"mend.case.v1.ParticipantAdded", "AddParticipant"},
      {"mend.case.v1.FacilitatorAllocated", "AllocateFacilitator"},
      {"mend.case.v1.FacilitatorReleased", "ReleaseFacilitator"},
      {"mend.case.v1.AcknowledgementRecorded", "RecordAcknowledgement"},
      {"mend.case.v1.RiskAssessmentRecorded", "RecordRiskAssessment"},
      {"mend.case.v1.RiskAssessmentApproved", "ApproveRiskAssessment"},
      {"mend.case.v1.SuitabilityRecorded", "RecordSuitability"},
      {"mend.case.v1.CasePaused", "PauseCase"},
      {"mend.case.v1.CaseResumed", "ResumeCase"},
      {"mend.case.v1.CaseClosed", "CloseCase"},
      {"mend.case.v1.ParticipantErased", "EraseParticipant"},
  };
  auto it = commands->find(std::string(type));
  return it == commands->end() ? std::string_view() : std::string_view(it->second);
}

// Splits "<request_id>/<n>" (request ids may contain '/': the last one
// counts). False for ids not of that form.
bool SplitEventId(std::string_view event_id, std::string* request_id, uint64_t* n) {
  const size_t slash = event_id.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  if (!absl::SimpleAtoi(std::string(event_id.substr(slash + 1)), n)) return false;
  *request_id = std::string(event_id.substr(0, slash));
  return true;
}

// "RJ-2026-000123" → (2026, 123).
bool ParseReference(const std::string& reference, int64_t* year, int64_t* number) {
  if (reference.size() < 9 || reference.compare(0, 3, "RJ-") != 0 ||
      reference[7] != '-') {
    return false;
  }
  return absl::SimpleAtoi(reference.substr(3, 4), year) &&
         absl::SimpleAtoi(reference.substr(8), number);
}

std::optional<uint64_t> ExpectedOf(bool has, uint64_t value) {
  return has ? std::optional<uint64_t>(value) : std::nullopt;
}

std::string Serialized(const google::protobuf::Message& message) {
  std::string bytes;
  message.SerializeToString(&bytes);  // deterministic enough: no maps in these
  return bytes;
}

}  // namespace

const MethodPolicy::Table& CasePolicy() {
  static const MethodPolicy::Table* const table = [] {
    const std::vector<Role> commands = {Role::kFacilitator, Role::kManager};
    const std::vector<Role> reads = {Role::kFacilitator, Role::kManager, Role::kAuditor,
                                     Role::kService};
    auto* t = new MethodPolicy::Table;
    for (const char* method :
         {"ReferCase", "AddParticipant", "AllocateFacilitator", "ReleaseFacilitator",
          "RecordAcknowledgement", "RecordRiskAssessment", "ApproveRiskAssessment",
          "RecordSuitability", "PauseCase", "ResumeCase", "CloseCase",
          "EraseParticipant", "LinkParticipant"}) {
      t->push_back({FullMethod(method), commands});
    }
    for (const char* method : {"GetCase", "ListCases"}) {
      t->push_back({FullMethod(method), reads});
    }
    return t;
  }();
  return *table;
}

CaseServiceImpl::CaseServiceImpl(ServiceRuntime* runtime)
    : CaseServiceImpl(runtime, Options()) {}

CaseServiceImpl::CaseServiceImpl(ServiceRuntime* runtime, Options options)
    : runtime_(runtime), options_(std::move(options)) {}

// ---------------------------------------------------------------------------
// Replay and the in-memory state.

absl::Status CaseServiceImpl::Apply(const ReplayedEvent& event) {
  std::vector<std::string> erase;
  {
    absl::MutexLock lock(&mu_);
    MEND_RETURN_IF_ERROR(ApplyLocked(event, &erase));
  }
  for (const std::string& person_id : erase) {
    MEND_RETURN_IF_ERROR(EnsureErased(person_id));
  }
  return absl::OkStatus();
}

absl::Status CaseServiceImpl::ApplyLocked(const ReplayedEvent& event,
                                          std::vector<std::string>* erase) {
  const eventlog::RecordView& view = event.view;
  MEND_ASSIGN_OR_RETURN(DomainEvent e,
                        ParseDomainEvent(view.event_type, view.payload, event.position,
                                         view.recorded_unix_micros));
  const std::string& case_id = e.case_id();
  if (view.stream_id != CaseStreamId(case_id)) {
    return absl::DataLossError(absl::StrCat(e.type(), " at position ", event.position,
                                            " of case ", Quote(case_id), " is in stream ",
                                            Quote(view.stream_id)));
  }
  auto it = cases_.find(case_id);
  CaseState fresh;
  CaseState& state = it != cases_.end() ? it->second : fresh;
  MEND_RETURN_IF_ERROR(Evolve(state, e));
  if (state.version != view.stream_version) {
    // Evolve counts events; the store counts them too. They must agree, or
    // the in-memory state is not the stream's.
    return absl::DataLossError(absl::StrCat(
        e.type(), " at position ", event.position, " is version ", view.stream_version,
        " of its stream, but version ", state.version, " of case ", Quote(case_id)));
  }
  if (it == cases_.end()) it = cases_.emplace(case_id, std::move(fresh)).first;
  const CaseState& applied = it->second;

  if (const auto* referred = std::get_if<case_v1::CaseReferred>(&e.event)) {
    int64_t year = 0;
    int64_t number = 0;
    if (ParseReference(referred->reference(), &year, &number)) {
      int64_t& last = last_reference_[year];
      last = std::max(last, number);
    }
  }
  // Keys are per case (case_state.h): the erased participant's key here.
  if (std::optional<std::string> key_id = ErasedKeyId(e)) {
    erase->push_back(*std::move(key_id));
  }

  std::string request_id;
  uint64_t n = 0;
  if (SplitEventId(view.event_id, &request_id, &n)) {
    if (n == 0) {
      const std::string_view method = CommandOfFirstEvent(e.type());
      if (!method.empty()) {
        RequestRecord& record = requests_[request_id];
        record.method = std::string(method);
        record.result.set_case_id(case_id);
        record.result.set_position(event.position);
      }
    }
    if (auto r = requests_.find(request_id);
        r != requests_.end() && r->second.result.case_id() == case_id) {
      r->second.result.set_version(applied.version);
      r->second.result.set_last_position(event.position);
      r->second.result.set_stage(applied.stage);
    }
  }
  return absl::OkStatus();
}

absl::Status CaseServiceImpl::EnsureErased(const std::string& key_id) {
  crypto::KeyStore* keys = runtime_->keys();
  if (keys == nullptr) return absl::OkStatus();  // nothing was ever sealed here
  MEND_ASSIGN_OR_RETURN(bool has_key, keys->HasKey(key_id));
  if (!has_key) return absl::OkStatus();
  return keys->Erase(key_id);
}

absl::Status CaseServiceImpl::CatchUp(const std::string& case_id) {
  uint64_t version = 0;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = cases_.find(case_id); it != cases_.end()) version = it->second.version;
  }
  return eventlog::ForEachStreamRecord(
      *runtime_->store(), CaseStreamId(case_id), version + 1, /*to_version=*/0,
      [&](const eventlog::RawRecord& record, const eventlog::RecordView& view) {
        return Apply(ReplayedEvent{record.position, record.bytes, view});
      });
}

std::string CaseServiceImpl::NextReference(absl::Time now) {
  const int64_t year = absl::ToCivilYear(now, absl::UTCTimeZone()).year();
  int64_t number;
  {
    absl::MutexLock lock(&mu_);
    number = ++last_reference_[year];
  }
  return absl::StrFormat("RJ-%04d-%06d", year, number);
}

absl::StatusOr<common_v1::Sealed> CaseServiceImpl::Seal(const std::string& case_id,
                                                        const std::string& person_id,
                                                        const std::string& plaintext,
                                                        std::string_view field) {
  common_v1::Sealed sealed;
  if (plaintext.empty()) return sealed;
  crypto::KeyStore* keys = runtime_->keys();
  if (keys == nullptr) {
    return absl::FailedPreconditionError(
        "the case service has no key store (--master_key): personal data cannot be "
        "stored");
  }
  absl::StatusOr<std::string> ciphertext =
      keys->Seal(PersonKeyId(case_id, person_id), plaintext, field);
  if (!ciphertext.ok()) {
    return absl::Status(
        ciphertext.status().code(),
        absl::StrCat("sealing personal data of participant ", Quote(person_id), ": ",
                     ciphertext.status().message()));
  }
  sealed.set_person_id(person_id);
  sealed.set_ciphertext(*std::move(ciphertext));
  return sealed;
}

absl::StatusOr<std::string> CaseServiceImpl::Unseal(std::string_view key_id,
                                                    const common_v1::Sealed& sealed,
                                                    std::string_view field) {
  crypto::KeyStore* keys = runtime_->keys();
  if (keys == nullptr) {
    return absl::FailedPreconditionError(
        "the case service has no key store (--master_key): personal data cannot be read");
  }
  return keys->Unseal(key_id, sealed.ciphertext(), field);
}

// ---------------------------------------------------------------------------
// Commands.

absl::StatusOr<case_v1::CommandResult> CaseServiceImpl::Execute(
    const grpc::CallbackServerContext& context, const CommandCall& call,
    const Decider& decide) {
  MEND_ASSIGN_OR_RETURN(Caller caller,
                        runtime_->Authorize(context, FullMethod(call.method)));
  const absl::Time deadline = runtime_->Deadline(context);
  {
    // A request id is carried out once: a retry waits for the original to
    // finish and then answers as it did.
    absl::MutexLock lock(&mu_);
    struct Waiting {
      const absl::flat_hash_set<std::string>* in_flight;
      const std::string* request_id;
    } waiting{&requests_in_flight_, &call.request_id};
    const bool done = mu_.AwaitWithDeadline(
        absl::Condition(
            +[](Waiting* w) { return !w->in_flight->contains(*w->request_id); },
            &waiting),
        deadline);
    if (!done) {
      return absl::DeadlineExceededError(absl::StrCat("request ", Quote(call.request_id),
                                                      " is still being carried out"));
    }
    if (auto it = requests_.find(call.request_id); it != requests_.end()) {
      const RequestRecord& record = it->second;
      if (record.method != call.method ||
          (!call.case_id.empty() && record.result.case_id() != call.case_id)) {
        return absl::AlreadyExistsError(
            absl::StrCat("request_id ", Quote(call.request_id), " was used for ",
                         record.method, " on case ", Quote(record.result.case_id()),
                         "; a new command needs a new request_id"));
      }
      return record.result;
    }
    requests_in_flight_.insert(call.request_id);
  }
  const std::string case_id = call.case_id.empty() ? NewUuid() : call.case_id;
  std::shared_ptr<absl::Mutex> case_lock = case_locks_.For(case_id);
  absl::StatusOr<case_v1::CommandResult> result;
  {
    absl::MutexLock lock(case_lock.get());
    result = ExecuteLocked(caller, call, case_id, decide);
  }
  absl::MutexLock lock(&mu_);
  requests_in_flight_.erase(call.request_id);
  return result;
}

absl::StatusOr<case_v1::CommandResult> CaseServiceImpl::ExecuteLocked(
    const Caller& caller, const CommandCall& call, const std::string& case_id,
    const Decider& decide) {
  // The state may lag the stream if folding an earlier append failed.
  MEND_RETURN_IF_ERROR(CatchUp(case_id));
  CaseState state;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = cases_.find(case_id); it != cases_.end()) state = it->second;
  }
  if (call.expected_version.has_value() && *call.expected_version != state.version) {
    return absl::AbortedError(absl::StrCat(
        std::string(call.method), ": case ", Quote(case_id), " is at version ",
        state.version, ", not the expected ", *call.expected_version));
  }
  const CommandContext ctx{
      .actor_id = caller.subject, .role = caller.role, .now = absl::Now()};
  MEND_ASSIGN_OR_RETURN(std::vector<DomainEvent> events, decide(state, ctx, case_id));

  std::vector<NewEvent> appends;
  appends.reserve(events.size());
  const std::string role(RoleName(caller.role));
  for (size_t i = 0; i < events.size(); ++i) {
    appends.push_back(NewEvent{.event_id = absl::StrCat(call.request_id, "/", i),
                               .event_type = events[i].type(),
                               .payload = events[i].SerializePayload(),
                               .actor_id = caller.subject,
                               .actor_role = role,
                               .correlation_id = call.request_id,
                               .causation_id = ""});
  }
  const ExpectedVersion expected = state.exists() ? ExpectedVersion::Exact(state.version)
                                                  : ExpectedVersion::NoStream();
  absl::StatusOr<eventlog::AppendResult> appended =
      runtime_->store()->Append(CaseStreamId(case_id), expected, std::move(appends));
  if (!appended.ok()) return appended.status();
  // Fold what the store recorded (positions and times as stored), so the
  // state equals the one a restart replays.
  MEND_RETURN_IF_ERROR(CatchUp(case_id));
  absl::MutexLock lock(&mu_);
  auto it = requests_.find(call.request_id);
  if (it == requests_.end()) {
    return absl::InternalError(
        absl::StrCat("request ", Quote(call.request_id), " was appended but not folded"));
  }
  return it->second.result;
}

namespace {

// Decides twice: first without personal data (a command the domain refuses
// seals nothing, so no key is made for it), then with it.
template <typename Command, typename DecideFn, typename SealFn>
absl::StatusOr<std::vector<DomainEvent>> DecideSealed(const CaseState& state,
                                                      Command command,
                                                      const CommandContext& ctx,
                                                      DecideFn decide_fn, SealFn seal) {
  MEND_RETURN_IF_ERROR(decide_fn(state, command, ctx).status());
  MEND_RETURN_IF_ERROR(seal(command));
  return decide_fn(state, command, ctx);
}

}  // namespace

grpc::ServerUnaryReactor* CaseServiceImpl::ReferCase(
    grpc::CallbackServerContext* context, const case_v1::ReferCaseRequest* request,
    case_v1::CommandResult* response) {
  if (absl::Status s = Validate(*request); !s.ok()) {
    // Authentication first: an unauthenticated caller learns nothing.
    absl::StatusOr<Caller> caller =
        runtime_->Authorize(*context, FullMethod("ReferCase"));
    return Reply(context, caller.ok() ? s : caller.status());
  }
  const CommandCall call{"ReferCase", request->request_id(), "", std::nullopt};
  return Reply(
      context,
      Execute(
          *context, call,
          [&](const CaseState& state, const CommandContext& ctx,
              const std::string& case_id) -> absl::StatusOr<std::vector<DomainEvent>> {
            ReferCaseCommand command;
            command.case_id = case_id;
            command.reference = NextReference(ctx.now);
            command.source = request->source();
            command.referral_date = request->referral_date();
            command.offence_category = request->offence_category();
            std::string service_user_id;
            for (const case_v1::NewParticipant& p : request->participants()) {
              case_v1::Participant& participant = command.participants.emplace_back();
              participant.set_participant_id(
                  p.participant_id().empty() ? NewUuid() : p.participant_id());
              participant.set_role(p.role());
              participant.set_supports_participant_id(p.supports_participant_id());
              if (p.role() == case_v1::SERVICE_USER) {
                service_user_id = participant.participant_id();
              }
            }
            return DecideSealed(
                state, std::move(command), ctx, DecideReferCase,
                [&](ReferCaseCommand& c) -> absl::Status {
                  for (int i = 0; i < request->participants_size(); ++i) {
                    const case_v1::NewParticipant& p = request->participants(i);
                    case_v1::Participant& participant = c.participants[i];
                    const std::string& id = participant.participant_id();
                    MEND_ASSIGN_OR_RETURN(*participant.mutable_details(),
                                          Seal(case_id, id, Serialized(p.details()),
                                               kSealedParticipantDetails));
                    MEND_ASSIGN_OR_RETURN(*participant.mutable_needs(),
                                          Seal(case_id, id, Serialized(p.needs()),
                                               kSealedParticipantNeeds));
                  }
                  MEND_ASSIGN_OR_RETURN(
                      c.offence_summary,
                      Seal(case_id, service_user_id, request->offence_summary(),
                           kSealedOffenceSummary));
                  return absl::OkStatus();
                });
          }),
      response);
}

// The commands on an existing case share their front: validation (after
// authentication) and the call's identity.
#define MEND_CASE_COMMAND_PREAMBLE(method)                                             \
  if (absl::Status s = Validate(*request); !s.ok()) {                                  \
    absl::StatusOr<Caller> caller = runtime_->Authorize(*context, FullMethod(method)); \
    return Reply(context, caller.ok() ? s : caller.status());                          \
  }                                                                                    \
  const CommandCall call {                                                             \
    method, request->request_id(), request->case_id(),                                 \
        ExpectedOf(request->has_expected_version(), request->expected_version())       \
  }

grpc::ServerUnaryReactor* CaseServiceImpl::AddParticipant(
    grpc::CallbackServerContext* context, const case_v1::AddParticipantRequest* request,
    case_v1::CommandResult* response) {
  MEND_CASE_COMMAND_PREAMBLE("AddParticipant");
  const std::string participant_id = request->participant().participant_id().empty()
                                         ? NewUuid()
                                         : request->participant().participant_id();
  return Reply(
      context,
      Execute(*context, call,
              [&](const CaseState& state, const CommandContext& ctx, const std::string&) {
                const case_v1::NewParticipant& p = request->participant();
                AddParticipantCommand command;
                command.case_id = request->case_id();
                command.participant.set_participant_id(participant_id);
                command.participant.set_role(p.role());
                command.participant.set_supports_participant_id(
                    p.supports_participant_id());
                return DecideSealed(
                    state, std::move(command), ctx, DecideAddParticipant,
                    [&](AddParticipantCommand& c) -> absl::Status {
                      MEND_ASSIGN_OR_RETURN(
                          *c.participant.mutable_details(),
                          Seal(request->case_id(), participant_id,
                               Serialized(p.details()), kSealedParticipantDetails));
                      MEND_ASSIGN_OR_RETURN(
                          *c.participant.mutable_needs(),
                          Seal(request->case_id(), participant_id, Serialized(p.needs()),
                               kSealedParticipantNeeds));
                      return absl::OkStatus();
                    });
              }),
      response);
}

grpc::ServerUnaryReactor* CaseServiceImpl::AllocateFacilitator(
    grpc::CallbackServerContext* context,
    const case_v1::AllocateFacilitatorRequest* request,
    case_v1::CommandResult* response) {
  MEND_CASE_COMMAND_PREAMBLE("AllocateFacilitator");
  return Reply(
      context,
      Execute(*context, call,
              [&](const CaseState& state, const CommandContext& ctx, const std::string&) {
                return DecideAllocateFacilitator(
                    state, {request->case_id(), request->facilitator_id()}, ctx);
              }),
      response);
}

grpc::ServerUnaryReactor* CaseServiceImpl::ReleaseFacilitator(
    grpc::CallbackServerContext* context,
    const case_v1::ReleaseFacilitatorRequest* request, case_v1::CommandResult* response) {
  MEND_CASE_COMMAND_PREAMBLE("ReleaseFacilitator");
  return Reply(
      context,
      Execute(*context, call,
              [&](const CaseState& state, const CommandContext& ctx, const std::string&) {
                return DecideReleaseFacilitator(
                    state, {request->case_id(), request->facilitator_id()}, ctx);
              }),
      response);
}

grpc::ServerUnaryReactor* CaseServiceImpl::RecordAcknowledgement(
    grpc::CallbackServerContext* context,
    const case_v1::RecordAcknowledgementRequest* request,
    case_v1::CommandResult* response) {
  MEND_CASE_COMMAND_PREAMBLE("RecordAcknowledgement");
  return Reply(
      context,
      Execute(*context, call,
              [&](const CaseState& state, const CommandContext& ctx, const std::string&) {
                RecordAcknowledgementCommand command;
                command.case_id = request->case_id();
                command.acknowledged = request->acknowledged();
                return DecideSealed(
                    state, std::move(command), ctx, DecideRecordAcknowledgement,
                    [&](RecordAcknowledgementCommand& c) -> absl::Status {
                      const ParticipantState* su = state.service_user();
                      if (su == nullptr || request->notes().empty())
                        return absl::OkStatus();
                      MEND_ASSIGN_OR_RETURN(
                          c.notes, Seal(state.case_id, su->participant_id,
                                        request->notes(), kSealedAcknowledgementNotes));
                      return absl::OkStatus();
                    });
              }),
      response);
}

grpc::ServerUnaryReactor* CaseServiceImpl::RecordRiskAssessment(
    grpc::CallbackServerContext* context,
    const case_v1::RecordRiskAssessmentRequest* request,
    case_v1::CommandResult* response) {
  MEND_CASE_COMMAND_PREAMBLE("RecordRiskAssessment");
  const std::string assessment_id =
      request->assessment_id().empty() ? NewUuid() : request->assessment_id();
  return Reply(
      context,
      Execute(
          *context, call,
          [&](const CaseState& state, const CommandContext& ctx, const std::string&) {
            RecordRiskAssessmentCommand command;
            command.case_id = request->case_id();
            command.assessment_id = assessment_id;
            command.level = request->level();
            for (int kind : request->allowed_kinds()) {
              command.allowed_kinds.push_back(static_cast<common_v1::ContactKind>(kind));
            }
            command.review_date = request->review_date();
            return DecideSealed(state, std::move(command), ctx,
                                DecideRecordRiskAssessment,
                                [&](RecordRiskAssessmentCommand& c) -> absl::Status {
                                  const ParticipantState* su = state.service_user();
                                  if (su == nullptr || request->notes().empty())
                                    return absl::OkStatus();
                                  MEND_ASSIGN_OR_RETURN(
                                      c.notes,
                                      Seal(state.case_id, su->participant_id,
                                           request->notes(), kSealedRiskAssessmentNotes));
                                  return absl::OkStatus();
                                });
          }),
      response);
}

grpc::ServerUnaryReactor* CaseServiceImpl::ApproveRiskAssessment(
    grpc::CallbackServerContext* context,
    const case_v1::ApproveRiskAssessmentRequest* request,
    case_v1::CommandResult* response) {
  MEND_CASE_COMMAND_PREAMBLE("ApproveRiskAssessment");
  return Reply(
      context,
      Execute(*context, call,
              [&](const CaseState& state, const CommandContext& ctx, const std::string&) {
                return DecideApproveRiskAssessment(
                    state, {request->case_id(), request->assessment_id()}, ctx);
              }),
      response);
}

grpc::ServerUnaryReactor* CaseServiceImpl::RecordSuitability(
    grpc::CallbackServerContext* context,
    const case_v1::RecordSuitabilityRequest* request, case_v1::CommandResult* response) {
  MEND_CASE_COMMAND_PREAMBLE("RecordSuitability");
  return Reply(
      context,
      Execute(*context, call,
              [&](const CaseState& state, const CommandContext& ctx, const std::string&) {
                return DecideRecordSuitability(
                    state, {request->case_id(), request->suitable(), request->reason()},
                    ctx);
              }),
      response);
}

grpc::ServerUnaryReactor* CaseServiceImpl::PauseCase(
    grpc::CallbackServerContext* context, const case_v1::PauseCaseRequest* request,
    case_v1::CommandResult* response) {
  MEND_CASE_COMMAND_PREAMBLE("PauseCase");
  return Reply(
      context,
      Execute(
          *context, call,
          [&](const CaseState& state, const CommandContext& ctx, const std::string&) {
            return DecidePauseCase(state, {request->case_id(), request->reason()}, ctx);
          }),
      response);
}

grpc::ServerUnaryReactor* CaseServiceImpl::ResumeCase(
    grpc::CallbackServerContext* context, const case_v1::ResumeCaseRequest* request,
    case_v1::CommandResult* response) {
  MEND_CASE_COMMAND_PREAMBLE("ResumeCase");
  return Reply(
      context,
      Execute(*context, call,
              [&](const CaseState& state, const CommandContext& ctx, const std::string&) {
                return DecideResumeCase(state, {request->case_id()}, ctx);
              }),
      response);
}

grpc::ServerUnaryReactor* CaseServiceImpl::CloseCase(
    grpc::CallbackServerContext* context, const case_v1::CloseCaseRequest* request,
    case_v1::CommandResult* response) {
  MEND_CASE_COMMAND_PREAMBLE("CloseCase");
  return Reply(
      context,
      Execute(
          *context, call,
          [&](const CaseState& state, const CommandContext& ctx, const std::string&) {
            return DecideCloseCase(state, {request->case_id(), request->reason()}, ctx);
          }),
      response);
}

grpc::ServerUnaryReactor* CaseServiceImpl::EraseParticipant(
    grpc::CallbackServerContext* context, const case_v1::EraseParticipantRequest* request,
    case_v1::CommandResult* response) {
  MEND_CASE_COMMAND_PREAMBLE("EraseParticipant");
  absl::StatusOr<case_v1::CommandResult> result =
      Execute(*context, call,
              [&](const CaseState& state, const CommandContext& ctx, const std::string&) {
                return DecideEraseParticipant(
                    state,
                    {request->case_id(), request->participant_id(), request->basis(),
                     request->reason(), options_.retention_period},
                    ctx);
              });
  // Applying ParticipantErased deleted the key; a retry of a command whose
  // key deletion failed deletes it now.
  if (result.ok()) {
    if (absl::Status s =
            EnsureErased(PersonKeyId(request->case_id(), request->participant_id()));
        !s.ok()) {
      return Reply(context, s);
    }
  }
  return Reply(context, std::move(result), response);
}

#undef MEND_CASE_COMMAND_PREAMBLE

// ---------------------------------------------------------------------------
// Reads.

grpc::ServerUnaryReactor* CaseServiceImpl::GetCase(grpc::CallbackServerContext* context,
                                                   const case_v1::GetCaseRequest* request,
                                                   case_v1::CaseView* response) {
  absl::StatusOr<Caller> caller = runtime_->Authorize(*context, FullMethod("GetCase"));
  if (!caller.ok()) return Reply(context, caller.status());
  if (absl::Status s = Validate(*request); !s.ok()) return Reply(context, s);
  CaseState state;
  {
    absl::MutexLock lock(&mu_);
    // CanRead answers a facilitator the same for an unknown case as for one
    // not allocated to them.
    auto it = cases_.find(request->case_id());
    if (it != cases_.end()) state = it->second;
    if (absl::Status s = CanRead(request->case_id(), state, *caller); !s.ok()) {
      return Reply(context, s);
    }
  }
  absl::StatusOr<case_v1::CaseView> view =
      BuildCaseView(state, *caller,
                    [this](std::string_view key_id, const common_v1::Sealed& s,
                           std::string_view field) { return Unseal(key_id, s, field); });
  if (view.ok()) *response = *std::move(view);
  return Reply(context, view.status());
}

grpc::ServerUnaryReactor* CaseServiceImpl::ListCases(
    grpc::CallbackServerContext* context, const case_v1::ListCasesRequest* request,
    case_v1::ListCasesResponse* response) {
  absl::StatusOr<Caller> caller = runtime_->Authorize(*context, FullMethod("ListCases"));
  if (!caller.ok()) return Reply(context, caller.status());
  if (absl::Status s = Validate(*request); !s.ok()) return Reply(context, s);
  std::string after;  // the last case id of the previous page
  if (!request->page_token().empty() &&
      (!absl::WebSafeBase64Unescape(request->page_token(), &after) || after.empty())) {
    return Reply(context,
                 absl::InvalidArgumentError("page_token: is not a token from ListCases"));
  }
  const int page_size =
      request->page_size() == 0 ? kDefaultPageSize : request->page_size();

  std::vector<CaseState> page;
  bool more = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = after.empty() ? cases_.begin() : cases_.upper_bound(after);
    for (; it != cases_.end(); ++it) {
      const CaseState& state = it->second;
      if (!state.exists()) continue;
      // Facilitators see only the cases allocated to them.
      if (caller->role == Role::kFacilitator && !state.IsAllocated(caller->subject))
        continue;
      if (request->stage() != case_v1::STAGE_UNSPECIFIED &&
          state.stage != request->stage()) {
        continue;
      }
      if (!request->facilitator_id().empty() &&
          !state.IsAllocated(request->facilitator_id())) {
        continue;
      }
      if (state.updated_unix_micros < request->updated_since_unix_micros()) continue;
      if (static_cast<int>(page.size()) == page_size) {
        more = true;
        break;
      }
      page.push_back(state);
    }
  }
  for (const CaseState& state : page) {
    absl::StatusOr<case_v1::CaseView> view = BuildCaseView(
        state, *caller,
        [this](std::string_view key_id, const common_v1::Sealed& s,
               std::string_view field) { return Unseal(key_id, s, field); });
    if (!view.ok()) return Reply(context, view.status());
    *response->add_cases() = *std::move(view);
  }
  if (more && !page.empty()) {
    response->set_next_page_token(absl::WebSafeBase64Escape(page.back().case_id));
  }
  return Reply(context, absl::OkStatus());
}

}  // namespace mend::casesvc

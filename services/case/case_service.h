// CaseServiceImpl: mend.case.v1.CaseService over the service runtime — the
// thin gRPC layer on top of the case domain (case_validation.h,
// case_decide.h, case_state.h, case_view.h).
//
//   auto runtime = ServiceRuntime::Create(options);   // with a master key
//   CaseServiceImpl service(runtime->get());
//   (*runtime)->RegisterService(&service);
//   (*runtime)->SetReplay([&](const ReplayedEvent& e) { return service.Apply(e); });
//   (*runtime)->Start();
//
// A command runs the shared command path (common/runtime/command_handler.h
// and command_path.h): authorize (CasePolicy(); UNAVAILABLE until replay is
// done) → validate (case_validation.h) → under the case's lock: catch up →
// idempotency → expected_version → decide once without personal data (so a
// refused command seals nothing) → seal personal data with the KeyStore
// (field names kSealed* from case_state.h) → decide → append to
// CaseStreamId(case_id) expecting the case's version → fold the appended
// records as the store recorded them → answer CommandResult.
//
// Outcomes of a command, beyond the domain's (case_decide.h):
//   UNAUTHENTICATED / PERMISSION_DENIED  the runtime's token and method checks
//   UNAVAILABLE          replaying or draining; the store failed (retry with
//                        the same request_id)
//   INVALID_ARGUMENT     case_validation.h; nothing is appended
//   ABORTED              expected_version is not the case's version (the
//                        message names the current one)
//   ALREADY_EXISTS       request_id was used before for another command,
//                        another case, or the same command with other
//                        content
//   FAILED_PRECONDITION  no key store (no --master_key); a person whose
//                        data is erased cannot have data sealed again
//
// Idempotency: a command whose request_id was already carried out (same
// command, same case, same content: RequestDigest) returns the original
// CommandResult and appends nothing, also after a restart (the request
// index is rebuilt from the event ids, command_event_id.h). A retry that
// arrives while the original is still running waits for it. ReferCase makes
// the case id (a UUID) and the reference (RJ-YYYY-NNNNNN, a per-year
// counter rebuilt on replay; a failed append leaves a gap, never a
// duplicate).
//
// Concurrency: commands on one case run one at a time (a lock per case, held
// across the append), so the in-memory state is always the stream's: two
// writers with the same expected_version → the second is ABORTED. Commands
// on different cases run in parallel and share the store's group commit.
//
// Reads (GetCase, ListCases) answer from memory: CanRead / BuildCaseView,
// personal data unsealed with the KeyStore only for managers and the
// facilitators allocated to the case (I5). Facilitators list only their own
// cases. ListCases is ordered by case id; its page token is the last case id
// of the page, web-safe base64.
//
// Erasure: EraseParticipant decides with Options::retention_period (the
// retention rule is DecideEraseParticipant's: only on a closed case; basis
// RETENTION_PERIOD_ELAPSED once the period has run since the closure,
// ERASURE_REQUEST at once but by a manager), appends ParticipantErased, then
// deletes the person's key (KeyStore::Erase). Apply erases again the key of every erased
// participant that still has one, so a crash between the two is harmless.
//
// Thread safety: every RPC may run concurrently from gRPC's threads. Apply is
// the replay function: the runtime calls it before the service serves, on one
// thread. Lifetime: service_runtime.h's one rule (alive until the runtime's
// Shutdown() has returned; the runtime alive while the service is used).
#ifndef MEND_SERVICES_CASE_CASE_SERVICE_H_
#define MEND_SERVICES_CASE_CASE_SERVICE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/base/command_context.h"
#include "common/runtime/causal_token.h"
#include "common/runtime/command_handler.h"
#include "common/runtime/command_path.h"
#include "common/runtime/follower.h"
#include "common/runtime/service_runtime.h"
#include "common/security/auth.h"
#include "mend/case/v1/case_service.grpc.pb.h"
#include "services/case/case_decide.h"
#include "services/case/case_state.h"

namespace mend::casesvc {

// "/mend.case.v1.CaseService/": the prefix of every method's full name.
inline constexpr char kCaseServicePrefix[] = "/mend.case.v1.CaseService/";

// Who may call what. Commands: facilitator and manager (the domain narrows
// further: allocation, release and approval are the manager's; facilitators
// act only on cases allocated to them). Reads (GetCase, ListCases):
// facilitator, manager, auditor, service. The `service` role runs no
// commands: other services learn about cases from the case log (EventLog
// Subscribe), and read a case by call only to show it.
const MethodPolicy::Table& CasePolicy();

class CaseServiceImpl final : public case_v1::CaseService::CallbackService {
 public:
  struct Options {
    // How long a closed case's personal data is kept before it may be erased
    // on basis RETENTION_PERIOD_ELAPSED (mend-case --retention_period). Must
    // pass ValidateRetentionPeriod (case_decide.h), or every such erasure is
    // INVALID_ARGUMENT.
    absl::Duration retention_period = kDefaultRetentionPeriod;
  };

  // `runtime`: see "Lifetime" in service_runtime.h. Commands need runtime->keys() (a
  // --master_key): without it they are FAILED_PRECONDITION.
  explicit CaseServiceImpl(ServiceRuntime* runtime);  // default Options
  CaseServiceImpl(ServiceRuntime* runtime, Options options);

  // Folds one event of the service's log into the in-memory state (the
  // runtime's replay function), and erases again the key of an erased
  // participant that still has one.
  //   DATA_LOSS  not a case event, a payload that does not parse, an event
  //              that does not fit its case (Evolve), or a stream id / stream
  //              version that disagrees with the event's case.
  //   other      erasing the key of an erased participant failed.
  absl::Status Apply(const ReplayedEvent& event);

  // The followers of the scheduling and the conference log (main.cc: either
  // may be null when its --upstream_* flag is not given; then the stages it
  // drives are never entered). Before the runtime starts.
  void SetFollowers(const Follower* scheduling, const Follower* conference);
  // The followers' handlers: upstream records → the facts kept
  // (case_upstream.h) and the stage moves they allow (DecideUpstreamFact),
  // appended to the case's stream with ids "<upstream>@<position>/<index>"
  // in one write with the checkpoint. A case the service does not know, or
  // a closed one, keeps nothing. A batch is cut before a second event of a
  // case it already writes to (the follower calls again from there), so
  // each event is decided on a state that includes the ones before it.
  BatchEffects ObserveScheduling(absl::Span<const UpstreamEvent> events);
  BatchEffects ObserveConference(absl::Span<const UpstreamEvent> events);
  // A follower's write is durable: fold it into the in-memory cases.
  void Observed(const eventlog::WriteRequest& request,
                const eventlog::WriteResult& result);

  grpc::ServerUnaryReactor* ReferCase(grpc::CallbackServerContext* context,
                                      const case_v1::ReferCaseRequest* request,
                                      case_v1::CommandResult* response) override;
  grpc::ServerUnaryReactor* AddParticipant(grpc::CallbackServerContext* context,
                                           const case_v1::AddParticipantRequest* request,
                                           case_v1::CommandResult* response) override;
  grpc::ServerUnaryReactor* AllocateFacilitator(
      grpc::CallbackServerContext* context,
      const case_v1::AllocateFacilitatorRequest* request,
      case_v1::CommandResult* response) override;
  grpc::ServerUnaryReactor* ReleaseFacilitator(
      grpc::CallbackServerContext* context,
      const case_v1::ReleaseFacilitatorRequest* request,
      case_v1::CommandResult* response) override;
  grpc::ServerUnaryReactor* RecordAcknowledgement(
      grpc::CallbackServerContext* context,
      const case_v1::RecordAcknowledgementRequest* request,
      case_v1::CommandResult* response) override;
  grpc::ServerUnaryReactor* RecordRiskAssessment(
      grpc::CallbackServerContext* context,
      const case_v1::RecordRiskAssessmentRequest* request,
      case_v1::CommandResult* response) override;
  grpc::ServerUnaryReactor* ApproveRiskAssessment(
      grpc::CallbackServerContext* context,
      const case_v1::ApproveRiskAssessmentRequest* request,
      case_v1::CommandResult* response) override;
  grpc::ServerUnaryReactor* RecordSuitability(
      grpc::CallbackServerContext* context,
      const case_v1::RecordSuitabilityRequest* request,
      case_v1::CommandResult* response) override;
  grpc::ServerUnaryReactor* PauseCase(grpc::CallbackServerContext* context,
                                      const case_v1::PauseCaseRequest* request,
                                      case_v1::CommandResult* response) override;
  grpc::ServerUnaryReactor* ResumeCase(grpc::CallbackServerContext* context,
                                       const case_v1::ResumeCaseRequest* request,
                                       case_v1::CommandResult* response) override;
  grpc::ServerUnaryReactor* CloseCase(grpc::CallbackServerContext* context,
                                      const case_v1::CloseCaseRequest* request,
                                      case_v1::CommandResult* response) override;
  grpc::ServerUnaryReactor* EraseParticipant(
      grpc::CallbackServerContext* context,
      const case_v1::EraseParticipantRequest* request,
      case_v1::CommandResult* response) override;
  grpc::ServerUnaryReactor* LinkParticipant(
      grpc::CallbackServerContext* context,
      const case_v1::LinkParticipantRequest* request,
      case_v1::CommandResult* response) override;
  grpc::ServerUnaryReactor* GetCase(grpc::CallbackServerContext* context,
                                    const case_v1::GetCaseRequest* request,
                                    case_v1::CaseView* response) override;
  grpc::ServerUnaryReactor* ListCases(grpc::CallbackServerContext* context,
                                      const case_v1::ListCasesRequest* request,
                                      case_v1::ListCasesResponse* response) override;

  using Path = CommandPath<CaseState, case_v1::CommandResult>;

 private:
  // A command's pure part on the case's state (ids and now in `ctx`).
  using Decider = absl::FunctionRef<absl::StatusOr<std::vector<DomainEvent>>(
      const CaseState& state, const CommandContext& ctx, const std::string& case_id)>;

  // Runs `request` on the command path: on case `case_id` (empty: a new
  // case), answered with its CommandResult.
  template <typename Request>
  absl::StatusOr<case_v1::CommandResult> Run(const Call& call, const Request& request,
                                             std::string case_id, Decider decide);

  // Runs `request` on its case and every case `reach` names
  // (CommandPath::ExecuteAcross); `decide` returns the domain's CaseAppends.
  template <typename Request, typename ReachFn, typename DecideFn>
  absl::StatusOr<case_v1::CommandResult> RunAcross(const Call& call,
                                                   const Request& request, ReachFn reach,
                                                   DecideFn decide);
  BatchEffects ObserveBatch(consent_v1::FactSource source,
                            absl::Span<const UpstreamEvent> events);
  // The case an upstream event is a fact of (nullopt: none the case keeps).
  absl::StatusOr<std::optional<std::string>> CaseOfUpstream(
      consent_v1::FactSource source, const UpstreamEvent& event) const;
  // One upstream event → its write (empty: nothing to keep).
  absl::StatusOr<eventlog::WriteRequest> ObserveOne(consent_v1::FactSource source,
                                                    const UpstreamEvent& event);
  // Waits until the scheduling and conference positions `token` names are
  // handled (the consent position is not the case service's to wait for).
  absl::Status WaitFor(const common_v1::CausalToken& token, absl::Time deadline) const;

  // The command path's fold: one case record into its state.
  absl::Status Evolve(CaseState& state, const ReplayedEvent& event);
  // Deletes the key (a PersonKeyId) if it still exists.
  absl::Status EnsureErased(const std::string& key_id);
  // Deletes the key of every erased participant linked with `person`
  // (FindLinkedGroup), `person` included.
  absl::Status EnsureGroupErased(const CasePerson& person);

  // The next RJ-YYYY-NNNNNN for a referral at `now`.
  std::string NextReference(absl::Time now);
  // `plaintext` sealed for `field` under the key of participant `person_id`
  // of case `case_id` (PersonKeyId: keys are per case); an empty Sealed for
  // empty plaintext ("not given").
  absl::StatusOr<common_v1::Sealed> Seal(const std::string& case_id,
                                         const std::string& person_id,
                                         const std::string& plaintext,
                                         std::string_view field);
  // Notes about the service user (acknowledgement, risk assessment) sealed
  // into `*sealed` with their key; nothing for empty notes (or before the
  // case has a service user: the domain refuses that command anyway).
  absl::Status SealServiceUserNotes(const CaseState& state, const std::string& notes,
                                    std::string_view field, common_v1::Sealed* sealed);
  // Unseals with the key `key_id` for case views (NOT_FOUND: erased).
  absl::StatusOr<std::string> Unseal(std::string_view key_id,
                                     const common_v1::Sealed& sealed,
                                     std::string_view field);
  // The view of one case for `caller`, unsealed as they may read it.
  absl::StatusOr<case_v1::CaseView> View(const CaseState& state, const Caller& caller);

  // Constant after construction.
  ServiceRuntime* const runtime_;
  const Options options_;
  const CommandHandler handler_;

  Path path_;
  CausalWaiter causal_;

  absl::Mutex references_mu_;
  // Year → the highest reference number used in it.
  absl::flat_hash_map<int64_t, int64_t> last_reference_ ABSL_GUARDED_BY(references_mu_);
};

}  // namespace mend::casesvc

#endif  // MEND_SERVICES_CASE_CASE_SERVICE_H_

// SchedulingServiceImpl: mend.scheduling.v1.SchedulingService over the
// service runtime — the gRPC layer on top of the scheduling domain
// (scheduling_validation.h, schedule_state.h, schedule_decide.h,
// schedule_time.h, schedule_cascade.h), the followers of the case and
// consent logs, and the client of the contact gate.
//
//   auto runtime = ServiceRuntime::Create(options);
//   MEND_ASSIGN_OR_RETURN(auto consent, (*runtime)->ClientChannel(consent_address));
//   SchedulingServiceImpl service(runtime->get(), consent, {.arrival_gap = ...});
//   (*runtime)->RegisterService(&service);
//   (*runtime)->SetReplay([&](const ReplayedEvent& e) { return service.Apply(e); });
//   auto c = (*runtime)->AddFollower("case", case_address,
//       [&](auto events) { return service.ObserveCase(events); },
//       [&](const WriteRequest& r, const WriteResult& w) { service.Observed(r, w); });
//   auto k = (*runtime)->AddFollower("consent", consent_address, ...ObserveConsent...);
//   service.SetFollowers(*c, *k);
//   (*runtime)->Start();
//
// Everything about a case lives in one stream of the scheduling log,
// ScheduleStreamId(case_id): the upstream facts and their cascades (written
// by the followers, one atomic write with their checkpoint per upstream
// event, expecting the stream's exact version) and the bookings (written by
// commands, expecting the version they decided on). A follower write that
// lands while a command decides makes the command's append ABORTED and the
// command decides again on the new facts; a command that lands while a
// follower decides a cascade makes the follower's write ABORTED and the
// cascade is decided again. So a cascade never misses a booking and a
// booking never misses a withdrawal or a pause.
//
// A command runs the shared command path (command_handler.h, command_path.h):
// authorize (SchedulingPolicy()) → validate (and resolve local times) →
// causal wait → [for a booking with a victim: ask the contact gate, outside
// any lock: DecideContact with the service's token, on the facilitator's
// behalf, with the causal token it has; a refusal is FAILED_PRECONDITION
// listing the reasons and the decision id, nothing booked] → the
// facilitators' locks (in id order) → the case's lock → catch up →
// idempotency → decide (pure: the domain's, on the case's state and the
// facilitators' other bookings from the calendar index) → append → fold →
// answer. Holding each booked facilitator's lock from the clash check to the
// fold is what makes double booking impossible across cases.
//
// Every booking and cancellation records the case- and consent-log
// positions the followers had handled when it was decided (`handled`).
//
// Thread safety: every RPC may run concurrently from gRPC's threads; the
// handlers and Observed run on the followers' threads. Apply is the replay
// function (before the service serves, one thread). SetFollowers before
// Start. Lifetime: service_runtime.h's one rule.
#ifndef MEND_SERVICES_SCHEDULING_SCHEDULING_SERVICE_H_
#define MEND_SERVICES_SCHEDULING_SCHEDULING_SERVICE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/base/keyed_mutex.h"
#include "common/runtime/causal_token.h"
#include "common/runtime/command_handler.h"
#include "common/runtime/command_path.h"
#include "common/runtime/follower.h"
#include "common/runtime/service_runtime.h"
#include "common/security/auth.h"
#include "mend/consent/v1/consent_service.grpc.pb.h"
#include "mend/scheduling/v1/scheduling_service.grpc.pb.h"
#include "services/scheduling/schedule_cascade.h"
#include "services/scheduling/schedule_decide.h"
#include "services/scheduling/schedule_state.h"

namespace mend::schedulingsvc {

// "/mend.scheduling.v1.SchedulingService/": the prefix of every method.
inline constexpr char kSchedulingServicePrefix[] =
    "/mend.scheduling.v1.SchedulingService/";

// Who may call what. Commands: facilitator (only on cases allocated to
// them), manager. GetCaseSchedule: facilitator (allocated), manager,
// auditor, service. GetFacilitatorCalendar: a facilitator for their own
// calendar; manager, auditor, service for anyone's.
const MethodPolicy::Table& SchedulingPolicy();

class SchedulingServiceImpl final
    : public scheduling_v1::SchedulingService::CallbackService {
 public:
  struct Options {
    // Staggered arrivals at a conference: the service user's side arrives
    // 2 × gap before the start, the victim's side gap before.
    absl::Duration arrival_gap = absl::Minutes(15);
    // The bound on one DecideContact a resume cascade asks.
    absl::Duration decide_timeout = absl::Seconds(10);
    // How long before a session's start its attendance may be recorded
    // (RecordAttendanceCommand::before_start): zero in production.
    absl::Duration attendance_before_start = absl::ZeroDuration();
  };

  // `consent`: a channel to the consent service (DecideContact), e.g.
  // ServiceRuntime::ClientChannel(--upstream_consent). `runtime`: see
  // "Lifetime" in service_runtime.h.
  SchedulingServiceImpl(ServiceRuntime* runtime, std::shared_ptr<grpc::Channel> consent,
                        Options options);

  // The followers of the case and consent logs (before Start).
  void SetFollowers(const Follower* case_follower, const Follower* consent_follower);

  // The followers' handlers: upstream records → the facts kept and their
  // cascades (schedule_cascade.h), one write per upstream event (merged by
  // Follower::HandleEach where they chain). A resume asks the gate again for
  // every held booking with a victim (an error stops the batch there: the
  // follower retries).
  BatchEffects ObserveCase(absl::Span<const UpstreamEvent> events);
  BatchEffects ObserveConsent(absl::Span<const UpstreamEvent> events);
  // The followers' committed callback: folds what was written.
  void Observed(const eventlog::WriteRequest& request,
                const eventlog::WriteResult& result);

  // Folds one event of the service's log (the runtime's replay function).
  absl::Status Apply(const ReplayedEvent& event) { return path_.Apply(event); }

  grpc::ServerUnaryReactor* PlanProgramme(
      grpc::CallbackServerContext* context,
      const scheduling_v1::PlanProgrammeRequest* request,
      scheduling_v1::CommandResult* response) override;
  grpc::ServerUnaryReactor* RescheduleSession(
      grpc::CallbackServerContext* context,
      const scheduling_v1::RescheduleSessionRequest* request,
      scheduling_v1::CommandResult* response) override;
  grpc::ServerUnaryReactor* CancelSession(
      grpc::CallbackServerContext* context,
      const scheduling_v1::CancelSessionRequest* request,
      scheduling_v1::CommandResult* response) override;
  grpc::ServerUnaryReactor* BookMakeUpSession(
      grpc::CallbackServerContext* context,
      const scheduling_v1::BookMakeUpSessionRequest* request,
      scheduling_v1::CommandResult* response) override;
  grpc::ServerUnaryReactor* RecordAttendance(
      grpc::CallbackServerContext* context,
      const scheduling_v1::RecordAttendanceRequest* request,
      scheduling_v1::CommandResult* response) override;
  grpc::ServerUnaryReactor* BookPreparationMeeting(
      grpc::CallbackServerContext* context,
      const scheduling_v1::BookPreparationMeetingRequest* request,
      scheduling_v1::CommandResult* response) override;
  grpc::ServerUnaryReactor* BookConference(
      grpc::CallbackServerContext* context,
      const scheduling_v1::BookConferenceRequest* request,
      scheduling_v1::CommandResult* response) override;
  grpc::ServerUnaryReactor* GetCaseSchedule(
      grpc::CallbackServerContext* context,
      const scheduling_v1::GetCaseScheduleRequest* request,
      scheduling_v1::GetCaseScheduleResponse* response) override;
  grpc::ServerUnaryReactor* GetFacilitatorCalendar(
      grpc::CallbackServerContext* context,
      const scheduling_v1::GetFacilitatorCalendarRequest* request,
      scheduling_v1::GetFacilitatorCalendarResponse* response) override;

 private:
  struct Answer {
    scheduling_v1::CommandResult result;
  };
  using Path = CommandPath<ScheduleState, Answer>;
  // A decide step of a command: the domain's events for the case's state,
  // given the upstream positions handled and the facilitators' other
  // bookings.
  using DecideFn = absl::FunctionRef<absl::StatusOr<std::vector<ScheduleEvent>>(
      const ScheduleState& state, const CommandContext& ctx, const Handled& handled)>;

  // Every command: authorize → validate → causal wait → `body`.
  template <typename Request>
  grpc::ServerUnaryReactor* Handle(
      grpc::CallbackServerContext* context, std::string_view method,
      const Request& request, scheduling_v1::CommandResult* response,
      absl::FunctionRef<absl::StatusOr<scheduling_v1::CommandResult>(const Call& call)>
          body);
  // Runs a validated command on its case's stream with the locks of
  // `facilitators` held.
  template <typename Request>
  absl::StatusOr<scheduling_v1::CommandResult> Run(
      const Call& call, const Request& request, const std::set<std::string>& facilitators,
      DecideFn decide);
  // The original answer when `request` is a retry of a command carried out
  // before (CommandPath::Answered), for the commands that ask the gate
  // first; nullopt for a new one.
  template <typename Request>
  absl::StatusOr<std::optional<scheduling_v1::CommandResult>> Answered(
      const Call& call, const Request& request);
  // Run for a command deciding one event: `decide(state, ctx)`, with
  // command.handled set to the positions handled first.
  template <typename Request, typename Command, typename DecideOne>
  absl::StatusOr<scheduling_v1::CommandResult> RunOne(
      const Call& call, const Request& request, const std::set<std::string>& facilitators,
      Command& command, DecideOne decide);
  // Every live booking of `facilitators` overlapping [from, to), any case.
  std::vector<BusySlot> OthersOf(const std::vector<std::string>& facilitators,
                                 absl::Time from, absl::Time to) const;
  // A copy of the case's folded state (empty, with the case id, if none),
  // after catching up with the stream.
  absl::StatusOr<ScheduleState> Snapshot(const std::string& case_id);
  // DecideContact on the gate for a booking: the decision when APPROVED;
  // FAILED_PRECONDITION with the refusal's reasons and id; UNAVAILABLE when
  // the gate cannot be reached.
  // Its request id derives from the booking's case and request id, so a
  // retried booking gets the original decision.
  template <typename Request>
  absl::StatusOr<scheduling_v1::Approval> AskGate(const Call& call,
                                                  const Request& request,
                                                  const ContactQuestion& question,
                                                  std::string_view purpose);
  // One DecideContact call (the service's token attached).
  absl::StatusOr<consent_v1::ContactDecision> CallDecideContact(
      const consent_v1::DecideContactRequest& request, absl::Time deadline) const;
  // One upstream event → its write (empty: nothing to keep).
  absl::StatusOr<eventlog::WriteRequest> ObserveOne(consent_v1::FactSource source,
                                                    const UpstreamEvent& event);
  Handled HandledNow() const;

  // Constant after construction (the followers set before Start).
  ServiceRuntime* const runtime_;
  const Options options_;
  const CommandHandler handler_;
  std::unique_ptr<consent_v1::ConsentService::Stub> consent_;
  const Follower* case_follower_ = nullptr;
  const Follower* consent_follower_ = nullptr;
  CausalWaiter causal_;

  KeyedMutexes facilitator_locks_;  // held from the clash check to the fold
  Path path_;

  // Every facilitator's live bookings, kept by the fold (path_'s lock is
  // held when it is updated: take calendar_mu_ after it, never before).
  mutable absl::Mutex calendar_mu_;
  CalendarIndex calendar_ ABSL_GUARDED_BY(calendar_mu_);
};

}  // namespace mend::schedulingsvc

#endif  // MEND_SERVICES_SCHEDULING_SCHEDULING_SERVICE_H_

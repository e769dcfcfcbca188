#include "services/scheduling/scheduling_service.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/base/page_token.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/eventlog/stream_records.h"
#include "common/observability/logging.h"
#include "common/rpc/status_convert.h"
#include "common/runtime/uuid.h"
#include "services/scheduling/schedule_time.h"
#include "services/scheduling/schedule_view.h"
#include "services/scheduling/scheduling_validation.h"

namespace mend::schedulingsvc {
namespace {

constexpr size_t kStreamPrefixLength = sizeof(kScheduleStreamPrefix) - 1;

using Result = absl::StatusOr<scheduling_v1::CommandResult>;

std::vector<DecidedEvent> AsDecided(std::vector<ScheduleEvent> events) {
  std::vector<DecidedEvent> out;
  out.reserve(events.size());
  for (ScheduleEvent& e : events) {
    out.push_back(DecidedEvent{std::move(e.type), std::move(e.payload)});
  }
  return out;
}

template <typename Event>
absl::StatusOr<std::vector<ScheduleEvent>> One(absl::StatusOr<Event> event) {
  if (!event.ok()) return event.status();
  return std::vector<ScheduleEvent>{Encode(*event)};
}

// The standard order of the programme's modules.
std::vector<scheduling_v1::Module> Modules(const scheduling_v1::PlanProgrammeRequest& r) {
  std::vector<scheduling_v1::Module> out;
  if (r.modules_size() == 0) {
    for (int m = 1; m <= kProgrammeSessions; ++m) {
      out.push_back(static_cast<scheduling_v1::Module>(m));
    }
  } else {
    for (int m : r.modules()) out.push_back(static_cast<scheduling_v1::Module>(m));
  }
  return out;
}

scheduling_v1::Approval ApprovalOf(const consent_v1::ContactDecision& d) {
  scheduling_v1::Approval a;
  a.set_decision_id(d.decision().decision_id());
  a.set_consent_position(d.position());
  a.set_kind(d.decision().kind());
  a.set_victim_id(d.decision().victim_id());
  a.set_service_user_id(d.decision().service_user_id());
  a.set_facilitator_id(d.decision().facilitator_id());
  a.set_policy_version(d.decision().policy_version());
  a.set_decided_unix_micros(d.decided_unix_micros());
  return a;
}

std::string Reasons(const consent_v1::ContactDecisionMade& d) {
  std::vector<std::string> out;
  for (const consent_v1::Reason& r : d.reasons()) {
    std::string one = consent_v1::ReasonCode_Name(r.code());
    if (!r.detail().empty()) absl::StrAppend(&one, " (", r.detail(), ")");
    out.push_back(std::move(one));
  }
  return out.empty() ? "no reason given" : absl::StrJoin(out, "; ");
}

// The request id of the DecideContact a command asks: derived from the
// command's own (so a retry gets the original decision), within the id limit.
std::string GateRequestId(std::string_view method, std::string_view key) {
  return absl::StrCat("scheduling:", std::string(method), ":",
                      HexEncode(Sha256Bytes(key)).substr(0, 32));
}

const char* SourceName(consent_v1::FactSource source) {
  return source == consent_v1::CONSENT_LOG ? "consent" : "case";
}

}  // namespace

const MethodPolicy::Table& SchedulingPolicy() {
  static const MethodPolicy::Table* const table =
      new MethodPolicy::Table(MethodPolicy::Methods(
          kSchedulingServicePrefix,
          {{{"PlanProgramme", "RescheduleSession", "CancelSession", "BookMakeUpSession",
             "RecordAttendance", "BookPreparationMeeting", "BookConference"},
            {Role::kFacilitator, Role::kManager}},
           {{"GetCaseSchedule", "GetFacilitatorCalendar"},
            {Role::kFacilitator, Role::kManager, Role::kAuditor, Role::kService}}}));
  return *table;
}

SchedulingServiceImpl::SchedulingServiceImpl(ServiceRuntime* runtime,
                                             std::shared_ptr<grpc::Channel> consent,
                                             Options options)
    : runtime_(runtime),
      options_(options),
      handler_(runtime, kSchedulingServicePrefix),
      consent_(consent_v1::ConsentService::NewStub(std::move(consent))),
      causal_("scheduling", runtime->store()),
      path_(runtime->store(),
            Path::Hooks{.stream_prefix = kScheduleStreamPrefix,
                        .evolve =
                            [this](ScheduleState& state, const ReplayedEvent& e) {
                              MEND_RETURN_IF_ERROR(schedulingsvc::Evolve(
                                  state, ScheduleLogEvent::Of(e.position, e.view)));
                              absl::MutexLock lock(&calendar_mu_);
                              calendar_.Replace(state);
                              return absl::OkStatus();
                            },
                        .version = [](const ScheduleState& s) { return s.version; },
                        .answer =
                            [](const CommandRecord& r, const ScheduleState& s) {
                              Answer a;
                              a.result.set_case_id(r.aggregate_id);
                              a.result.set_version(r.version);
                              a.result.set_position(r.first_position);
                              a.result.set_last_position(r.last_position);
                              for (const std::string& id : s.last_booking_ids) {
                                a.result.add_booking_ids(id);
                              }
                              if (s.last_booking_ids.size() == 1) {
                                const BookingFacts* b =
                                    s.FindBooking(s.last_booking_ids[0]);
                                if (b != nullptr && b->approval.has_value()) {
                                  *a.result.mutable_approval() = *b->approval;
                                }
                              }
                              a.result.set_programme_completed(
                                  s.programme_completed_position >= r.first_position &&
                                  s.programme_completed_position <= r.last_position);
                              return a;
                            }},
            NewUuid, absl::Now) {}

void SchedulingServiceImpl::SetFollowers(const Follower* case_follower,
                                         const Follower* consent_follower) {
  case_follower_ = case_follower;
  consent_follower_ = consent_follower;
  causal_.Follow("case", case_follower);
  causal_.Follow("consent", consent_follower);
}

Handled SchedulingServiceImpl::HandledNow() const {
  Handled h;
  if (case_follower_ != nullptr) h.set_case_position(case_follower_->handled_position());
  if (consent_follower_ != nullptr) {
    h.set_consent_position(consent_follower_->handled_position());
  }
  return h;
}

std::vector<BusySlot> SchedulingServiceImpl::OthersOf(
    const std::vector<std::string>& facilitators, absl::Time from, absl::Time to) const {
  std::vector<BusySlot> out;
  absl::MutexLock lock(&calendar_mu_);
  for (const std::string& f : facilitators) {
    std::vector<BusySlot> some = calendar_.Overlapping(f, from, to);
    out.insert(out.end(), std::make_move_iterator(some.begin()),
               std::make_move_iterator(some.end()));
  }
  return out;
}

absl::StatusOr<ScheduleState> SchedulingServiceImpl::Snapshot(
    const std::string& case_id) {
  MEND_RETURN_IF_ERROR(path_.Sync(case_id));
  ScheduleState copy;
  MEND_RETURN_IF_ERROR(path_.Read(
      case_id,
      [&](const ScheduleState& s) {
        copy = s;
        return absl::OkStatus();
      },
      [&] {
        copy.case_id = case_id;
        return absl::OkStatus();
      }));
  return copy;
}

// ---------------------------------------------------------------------------
// Following the case and consent logs.

BatchEffects SchedulingServiceImpl::ObserveCase(absl::Span<const UpstreamEvent> events) {
  return Follower::HandleEach(events, [this](const UpstreamEvent& e) {
    return ObserveOne(consent_v1::CASE_LOG, e);
  });
}

BatchEffects SchedulingServiceImpl::ObserveConsent(
    absl::Span<const UpstreamEvent> events) {
  return Follower::HandleEach(events, [this](const UpstreamEvent& e) {
    return ObserveOne(consent_v1::CONSENT_LOG, e);
  });
}

absl::StatusOr<eventlog::WriteRequest> SchedulingServiceImpl::ObserveOne(
    consent_v1::FactSource source, const UpstreamEvent& event) {
  MEND_ASSIGN_OR_RETURN(std::optional<scheduling_v1::UpstreamFactRecorded> fact,
                        source == consent_v1::CASE_LOG
                            ? CaseFact(event.position, event.bytes, event.view)
                            : ConsentFact(event.position, event.bytes, event.view));
  if (!fact.has_value()) return eventlog::WriteRequest{};  // nothing to keep
  const std::string case_id = fact->case_id();
  MEND_ASSIGN_OR_RETURN(ScheduleState state, Snapshot(case_id));

  // What the service had handled: this event, and the other log's checkpoint.
  Handled handled = HandledNow();
  if (source == consent_v1::CASE_LOG) {
    handled.set_case_position(event.position);
  } else {
    handled.set_consent_position(event.position);
  }

  std::vector<ResumeAnswer> answers;
  if (fact->has_resumed()) {
    const absl::Time at = absl::FromUnixMicros(fact->recorded_unix_micros());
    for (const ResumeQuestion& q : QuestionsOnResume(state, at)) {
      consent_v1::DecideContactRequest r;
      r.set_request_id(absl::StrCat("scheduling:resume:", event.position, ":",
                                    HexEncode(Sha256Bytes(q.booking_id)).substr(0, 32)));
      r.set_case_id(case_id);
      r.set_kind(q.question.kind);
      r.set_victim_id(q.question.victim_id);
      r.set_facilitator_id(q.question.facilitator_id);
      r.set_purpose("scheduling.resume");
      r.mutable_causal_token()->set_case_position(event.position);
      absl::StatusOr<consent_v1::ContactDecision> d =
          CallDecideContact(r, absl::Now() + options_.decide_timeout);
      ResumeAnswer answer;
      answer.booking_id = q.booking_id;
      if (d.ok()) {
        answer.approved = d->decision().outcome() == consent_v1::APPROVED;
        answer.approval = ApprovalOf(*d);
      } else if (absl::IsUnavailable(d.status()) ||
                 absl::IsDeadlineExceeded(d.status()) || absl::IsAborted(d.status()) ||
                 absl::IsResourceExhausted(d.status()) ||
                 absl::IsUnauthenticated(d.status()) ||
                 absl::IsPermissionDenied(d.status()) || absl::IsInternal(d.status())) {
        // The gate cannot answer now: the follower retries this event.
        return absl::UnavailableError(absl::StrCat(
            "resume of case ", case_id, ": the contact gate did not decide on ",
            q.booking_id, ": ", d.status().ToString()));
      } else {
        // The gate will never approve this question (e.g. the victim is no
        // longer of the case): the booking cannot count again.
        answer.approved = false;
        log::Warn("the contact gate refused to decide on a resume",
                  {{"case_id", case_id},
                   {"booking_id", q.booking_id},
                   {"code", absl::StatusCodeToString(d.status().code())}});
      }
      answers.push_back(std::move(answer));
    }
  }
  MEND_ASSIGN_OR_RETURN(std::vector<ScheduleEvent> cascade,
                        Cascade(state, *fact, handled, answers));

  std::vector<ScheduleEvent> events;
  events.push_back(Encode(*fact));
  for (ScheduleEvent& e : cascade) events.push_back(std::move(e));
  const size_t cascaded = events.size() - 1;
  eventlog::StreamAppend append =
      UpstreamAppend(ScheduleStreamId(case_id),
                     state.version == 0 ? eventlog::ExpectedVersion::NoStream()
                                        : eventlog::ExpectedVersion::Exact(state.version),
                     SourceName(source), event, "scheduling", events);
  if (cascaded > 0) {
    log::Info("cascade", {{"case_id", case_id},
                          {"upstream", SourceName(source)},
                          {"position", absl::StrCat(event.position)},
                          {"events", absl::StrCat(cascaded)}});
  }
  eventlog::WriteRequest write;
  write.appends.push_back(std::move(append));
  return write;
}

void SchedulingServiceImpl::Observed(const eventlog::WriteRequest& request,
                                     const eventlog::WriteResult& /*result*/) {
  for (const eventlog::StreamAppend& append : request.appends) {
    if (!append.stream_id.starts_with(kScheduleStreamPrefix)) continue;
    const std::string case_id = append.stream_id.substr(kStreamPrefixLength);
    if (absl::Status s = path_.Sync(case_id); !s.ok()) {
      log::Error("folding an upstream fact failed",
                 {{"case_id", case_id}, {"error", std::string(s.message())}});
    }
  }
}

// ---------------------------------------------------------------------------
// The contact gate.

absl::StatusOr<consent_v1::ContactDecision> SchedulingServiceImpl::CallDecideContact(
    const consent_v1::DecideContactRequest& request, absl::Time deadline) const {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  runtime_->PrepareServiceCall(&context);
  consent_v1::ContactDecision out;
  grpc::Status status = consent_->DecideContact(&context, request, &out);
  if (!status.ok()) return FromGrpc(status);
  return out;
}

template <typename Request>
absl::StatusOr<scheduling_v1::Approval> SchedulingServiceImpl::AskGate(
    const Call& call, const Request& request, const ContactQuestion& question,
    std::string_view purpose) {
  const std::string& case_id = request.case_id();
  const common_v1::CausalToken& seen = request.causal_token();
  const std::string request_key = absl::StrCat(case_id, "/", request.request_id());
  consent_v1::DecideContactRequest r;
  r.set_request_id(GateRequestId(call.method, request_key));
  r.set_case_id(case_id);
  r.set_kind(question.kind);
  r.set_victim_id(question.victim_id);
  r.set_facilitator_id(question.facilitator_id);
  r.set_purpose(std::string(purpose));
  // The token the service has: the case log as far as it has handled it
  // (the caller's, if further).
  const Handled handled = HandledNow();
  r.mutable_causal_token()->set_case_position(
      std::max(seen.case_position(), handled.case_position()));
  r.mutable_causal_token()->set_consent_position(
      std::max(seen.consent_position(), handled.consent_position()));
  absl::StatusOr<consent_v1::ContactDecision> d = CallDecideContact(r, call.deadline);
  if (!d.ok()) {
    if (absl::IsUnavailable(d.status()) || absl::IsDeadlineExceeded(d.status())) {
      return absl::UnavailableError(absl::StrCat(
          "the contact gate (consent service) did not answer: ", d.status().message(),
          "; nothing was booked: retry"));
    }
    if (absl::IsUnauthenticated(d.status()) || absl::IsPermissionDenied(d.status())) {
      // Not the caller's fault: this service's own token was refused.
      return absl::UnavailableError(absl::StrCat(
          "the contact gate (consent service) refused the scheduling service's token (",
          d.status().message(), "); nothing was booked"));
    }
    if (absl::IsAlreadyExists(d.status())) {
      // The gate's request id derives from the command's: the same id with
      // other content.
      return absl::AlreadyExistsError(absl::StrCat(
          "request_id was used before for a booking with other content (the contact "
          "gate says: ",
          d.status().message(), "); a new booking needs a new request_id"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("the contact gate (consent service) could not decide: ",
                     absl::StatusCodeToString(d.status().code()), ": ",
                     d.status().message(), "; nothing was booked"));
  }
  if (d->decision().outcome() != consent_v1::APPROVED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "contact decision ", d->decision().decision_id(), " (consent-log position ",
        d->position(), ") refused ", common_v1::ContactKind_Name(question.kind), " with ",
        question.victim_id, ": ", Reasons(d->decision()), "; nothing was booked"));
  }
  return ApprovalOf(*d);
}

// ---------------------------------------------------------------------------
// Commands.

template <typename Request>
absl::StatusOr<scheduling_v1::CommandResult> SchedulingServiceImpl::Run(
    const Call& call, const Request& request, const std::set<std::string>& facilitators,
    DecideFn decide) {
  LockSet held(facilitator_locks_, facilitators);
  MEND_ASSIGN_OR_RETURN(
      CommandOutcome<Answer> outcome,
      path_.Execute(
          CommandFor(call, request, request.case_id(), ExpectedVersionOf(request)),
          [&](const ScheduleState& state, const CommandContext& ctx,
              const std::string&) -> absl::StatusOr<std::vector<DecidedEvent>> {
            MEND_ASSIGN_OR_RETURN(std::vector<ScheduleEvent> events,
                                  decide(state, ctx, HandledNow()));
            return AsDecided(std::move(events));
          }));
  return outcome.answer.result;
}

template <typename Request>
absl::StatusOr<std::optional<scheduling_v1::CommandResult>>
SchedulingServiceImpl::Answered(const Call& call, const Request& request) {
  MEND_ASSIGN_OR_RETURN(std::optional<CommandOutcome<Answer>> done,
                        path_.Answered(CommandFor(call, request, request.case_id(),
                                                  ExpectedVersionOf(request))));
  if (!done.has_value()) return std::nullopt;
  return done->answer.result;
}

template <typename Request, typename Command, typename DecideOne>
absl::StatusOr<scheduling_v1::CommandResult> SchedulingServiceImpl::RunOne(
    const Call& call, const Request& request, const std::set<std::string>& facilitators,
    Command& command, DecideOne decide) {
  return Run(call, request, facilitators,
             [&](const ScheduleState& s, const CommandContext& ctx, const Handled& h) {
               command.handled = h;
               return One(decide(s, ctx));
             });
}

template <typename Request>
grpc::ServerUnaryReactor* SchedulingServiceImpl::Handle(
    grpc::CallbackServerContext* context, std::string_view method, const Request& request,
    scheduling_v1::CommandResult* response,
    absl::FunctionRef<absl::StatusOr<scheduling_v1::CommandResult>(const Call& call)>
        body) {
  return handler_.Unary<scheduling_v1::CommandResult>(
      context, method, response,
      [&](const Call& call) -> absl::StatusOr<scheduling_v1::CommandResult> {
        MEND_RETURN_IF_ERROR(Validate(request));
        MEND_RETURN_IF_ERROR(causal_.Wait(request.causal_token(), call.deadline));
        return body(call);
      });
}

grpc::ServerUnaryReactor* SchedulingServiceImpl::PlanProgramme(
    grpc::CallbackServerContext* context,
    const scheduling_v1::PlanProgrammeRequest* request,
    scheduling_v1::CommandResult* response) {
  return Handle(
      context, "PlanProgramme", *request, response, [&](const Call& call) -> Result {
        const scheduling_v1::LocalTime& first_session = request->first_session();
        MEND_ASSIGN_OR_RETURN(ResolvedTime first,
                              ResolveStart("first_session", first_session));
        PlanProgrammeCommand command{
            .case_id = request->case_id(),
            .programme_id = NewUuid(),
            .booking_ids = {},
            .facilitator_id = request->facilitator_id(),
            .starts = {},
            .zone = first.zone,
            .cadence_weeks = request->cadence_weeks() == 0 ? 1 : request->cadence_weeks(),
            .venue = request->venue(),
            .modules = Modules(*request),
            .handled = {}};
        MEND_ASSIGN_OR_RETURN(
            command.starts,
            WeeklyStarts("first_session", {first_session.date(), first_session.time()},
                         first.zone, command.cadence_weeks, kProgrammeSessions));
        for (int i = 0; i < kProgrammeSessions; ++i)
          command.booking_ids.push_back(NewUuid());
        const absl::Time from = command.starts.front();
        const absl::Time to = command.starts.back() + kSessionLength;
        return RunOne(call, *request, {command.facilitator_id}, command,
                      [&](const ScheduleState& s, const CommandContext& ctx) {
                        return DecidePlanProgramme(
                            s, command, OthersOf({command.facilitator_id}, from, to),
                            ctx);
                      });
      });
}

grpc::ServerUnaryReactor* SchedulingServiceImpl::RescheduleSession(
    grpc::CallbackServerContext* context,
    const scheduling_v1::RescheduleSessionRequest* request,
    scheduling_v1::CommandResult* response) {
  return Handle(
      context, "RescheduleSession", *request, response, [&](const Call& call) -> Result {
        MEND_ASSIGN_OR_RETURN(ResolvedTime start,
                              ResolveStart("start", request->start()));
        RescheduleSessionCommand command{.case_id = request->case_id(),
                                         .booking_id = request->booking_id(),
                                         .start = start.start,
                                         .zone = start.zone,
                                         .venue = request->venue(),
                                         .reason = request->reason(),
                                         .handled = {}};
        // A booking's facilitators never change: read them before locking.
        MEND_ASSIGN_OR_RETURN(ScheduleState now, Snapshot(request->case_id()));
        std::vector<std::string> facilitators;
        if (const BookingFacts* b = now.FindBooking(request->booking_id())) {
          facilitators = b->facilitator_ids;
        }
        return RunOne(
            call, *request, {facilitators.begin(), facilitators.end()}, command,
            [&](const ScheduleState& s, const CommandContext& ctx) {
              return DecideRescheduleSession(
                  s, command,
                  OthersOf(facilitators, command.start, command.start + kSessionLength),
                  ctx);
            });
      });
}

grpc::ServerUnaryReactor* SchedulingServiceImpl::CancelSession(
    grpc::CallbackServerContext* context,
    const scheduling_v1::CancelSessionRequest* request,
    scheduling_v1::CommandResult* response) {
  return Handle(context, "CancelSession", *request, response,
                [&](const Call& call) -> Result {
                  CancelBookingCommand command{.case_id = request->case_id(),
                                               .booking_id = request->booking_id(),
                                               .cause = request->cause(),
                                               .reason = request->reason(),
                                               .handled = {}};
                  // A cancellation frees time: no facilitator lock needed.
                  return RunOne(call, *request, {}, command,
                                [&](const ScheduleState& s, const CommandContext& ctx) {
                                  return DecideCancelBooking(s, command, ctx);
                                });
                });
}

grpc::ServerUnaryReactor* SchedulingServiceImpl::BookMakeUpSession(
    grpc::CallbackServerContext* context,
    const scheduling_v1::BookMakeUpSessionRequest* request,
    scheduling_v1::CommandResult* response) {
  return Handle(
      context, "BookMakeUpSession", *request, response, [&](const Call& call) -> Result {
        MEND_ASSIGN_OR_RETURN(ResolvedTime start,
                              ResolveStart("start", request->start()));
        BookMakeUpSessionCommand command{
            .case_id = request->case_id(),
            .booking_id = NewUuid(),
            .makes_up_booking_id = request->makes_up_booking_id(),
            .start = start.start,
            .zone = start.zone,
            .venue = request->venue(),
            .facilitator_id = request->facilitator_id(),
            .handled = {}};
        std::string facilitator = request->facilitator_id();
        if (facilitator.empty()) {
          // The programme's facilitator, who never changes.
          MEND_ASSIGN_OR_RETURN(ScheduleState now, Snapshot(request->case_id()));
          facilitator = now.programme_facilitator_id;
        }
        std::set<std::string> locks;
        if (!facilitator.empty()) locks.insert(facilitator);
        return RunOne(
            call, *request, locks, command,
            [&](const ScheduleState& s, const CommandContext& ctx) {
              return DecideBookMakeUpSession(
                  s, command,
                  OthersOf({facilitator}, command.start, command.start + kSessionLength),
                  ctx);
            });
      });
}

grpc::ServerUnaryReactor* SchedulingServiceImpl::RecordAttendance(
    grpc::CallbackServerContext* context,
    const scheduling_v1::RecordAttendanceRequest* request,
    scheduling_v1::CommandResult* response) {
  return Handle(
      context, "RecordAttendance", *request, response,
      [&](const Call& call) -> absl::StatusOr<scheduling_v1::CommandResult> {
        RecordAttendanceCommand command{.case_id = request->case_id(),
                                        .booking_id = request->booking_id(),
                                        .attendance = request->attendance(),
                                        .reason = request->reason(),
                                        .handled = {},
                                        .before_start = options_.attendance_before_start};
        MEND_ASSIGN_OR_RETURN(
            scheduling_v1::CommandResult result,
            Run(call, *request, {},
                [&](const ScheduleState& s, const CommandContext& ctx,
                    const Handled& h) -> absl::StatusOr<std::vector<ScheduleEvent>> {
                  command.handled = h;
                  MEND_ASSIGN_OR_RETURN(AttendanceDecided d,
                                        DecideRecordAttendance(s, command, ctx));
                  std::vector<ScheduleEvent> events = {Encode(d.recorded)};
                  if (d.completed.has_value()) events.push_back(Encode(*d.completed));
                  return events;
                }));
        if (result.programme_completed()) {
          log::Info("programme completed",
                    {{"case_id", result.case_id()},
                     {"position", absl::StrCat(result.last_position())}});
        }
        return result;
      });
}

// The caller as the domain's checks before the gate see them (now: the
// time the gate is asked).
static CommandContext AskingContext(const Call& call) {
  return CommandContext{
      .actor_id = call.caller.subject, .role = call.caller.role, .now = absl::Now()};
}

grpc::ServerUnaryReactor* SchedulingServiceImpl::BookPreparationMeeting(
    grpc::CallbackServerContext* context,
    const scheduling_v1::BookPreparationMeetingRequest* request,
    scheduling_v1::CommandResult* response) {
  return Handle(
      context, "BookPreparationMeeting", *request, response,
      [&](const Call& call) -> Result {
        MEND_ASSIGN_OR_RETURN(ResolvedTime start,
                              ResolveStart("start", request->start()));
        BookPreparationMeetingCommand command{
            .case_id = request->case_id(),
            .booking_id = NewUuid(),
            .participant_id = request->participant_id(),
            .facilitator_id = request->facilitator_id(),
            .start = start.start,
            .end = start.start + absl::Minutes(request->duration_minutes()),
            .zone = start.zone,
            .venue = request->venue(),
            .approval = std::nullopt,
            .handled = {}};
        // A retry gets its answer; refuse what can be refused before asking
        // the gate; then ask it, outside any lock.
        MEND_ASSIGN_OR_RETURN(std::optional<scheduling_v1::CommandResult> done,
                              Answered(call, *request));
        if (done.has_value()) return *std::move(done);
        MEND_ASSIGN_OR_RETURN(ScheduleState now, Snapshot(request->case_id()));
        MEND_ASSIGN_OR_RETURN(std::optional<ContactQuestion> question,
                              PreparationQuestion(now, command, AskingContext(call)));
        if (question.has_value()) {
          MEND_ASSIGN_OR_RETURN(command.approval, AskGate(call, *request, *question,
                                                          "scheduling.preparation"));
        }
        return RunOne(
            call, *request, {command.facilitator_id}, command,
            [&](const ScheduleState& s, const CommandContext& ctx) {
              return DecideBookPreparationMeeting(
                  s, command,
                  OthersOf({command.facilitator_id}, command.start, command.end), ctx);
            });
      });
}

grpc::ServerUnaryReactor* SchedulingServiceImpl::BookConference(
    grpc::CallbackServerContext* context,
    const scheduling_v1::BookConferenceRequest* request,
    scheduling_v1::CommandResult* response) {
  return Handle(
      context, "BookConference", *request, response, [&](const Call& call) -> Result {
        MEND_ASSIGN_OR_RETURN(ResolvedTime start,
                              ResolveStart("start", request->start()));
        BookConferenceCommand command{
            .case_id = request->case_id(),
            .booking_id = NewUuid(),
            .format = request->format(),
            .start = start.start,
            .end = start.start + absl::Minutes(request->duration_minutes()),
            .zone = start.zone,
            .venue = request->venue(),
            .participant_ids = {request->participant_ids().begin(),
                                request->participant_ids().end()},
            .facilitator_ids = {request->facilitator_ids().begin(),
                                request->facilitator_ids().end()},
            .arrival_gap = options_.arrival_gap,
            .approval = std::nullopt,
            .handled = {}};
        MEND_ASSIGN_OR_RETURN(std::optional<scheduling_v1::CommandResult> done,
                              Answered(call, *request));
        if (done.has_value()) return *std::move(done);
        MEND_ASSIGN_OR_RETURN(ScheduleState now, Snapshot(request->case_id()));
        MEND_ASSIGN_OR_RETURN(ContactQuestion question,
                              ConferenceQuestion(now, command, AskingContext(call)));
        MEND_ASSIGN_OR_RETURN(command.approval,
                              AskGate(call, *request, question, "scheduling.conference"));
        // The parties arrive before the start: the earliest arrival counts for
        // the facilitators' calendars too.
        const absl::Time from = command.start - 2 * options_.arrival_gap;
        return RunOne(call, *request,
                      {command.facilitator_ids.begin(), command.facilitator_ids.end()},
                      command, [&](const ScheduleState& s, const CommandContext& ctx) {
                        return DecideBookConference(
                            s, command,
                            OthersOf(command.facilitator_ids, from, command.end), ctx);
                      });
      });
}

// ---------------------------------------------------------------------------
// Reads.

grpc::ServerUnaryReactor* SchedulingServiceImpl::GetCaseSchedule(
    grpc::CallbackServerContext* context,
    const scheduling_v1::GetCaseScheduleRequest* request,
    scheduling_v1::GetCaseScheduleResponse* response) {
  return handler_.Unary<scheduling_v1::GetCaseScheduleResponse>(
      context, "GetCaseSchedule", response,
      [&](const Call& call) -> absl::StatusOr<scheduling_v1::GetCaseScheduleResponse> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        MEND_RETURN_IF_ERROR(causal_.Wait(request->causal_token(), call.deadline));
        const CommandContext ctx{.actor_id = call.caller.subject,
                                 .role = call.caller.role};
        scheduling_v1::GetCaseScheduleResponse out;
        auto read = [&](const ScheduleState& s) -> absl::Status {
          MEND_RETURN_IF_ERROR(CheckCanAct(s, request->case_id(), ctx));
          if (!s.case_known) {
            return absl::NotFoundError(absl::StrCat(
                "case ", Quoted(request->case_id()),
                " is not known to the scheduling service (case log handled up to ",
                HandledNow().case_position(),
                "; pass a causal token if the case is new)"));
          }
          out = ScheduleView(s);
          return absl::OkStatus();
        };
        ScheduleState none;
        none.case_id = request->case_id();
        MEND_RETURN_IF_ERROR(
            path_.Read(request->case_id(), read, [&] { return read(none); }));
        *out.mutable_handled() = HandledNow();
        return out;
      });
}

grpc::ServerUnaryReactor* SchedulingServiceImpl::GetFacilitatorCalendar(
    grpc::CallbackServerContext* context,
    const scheduling_v1::GetFacilitatorCalendarRequest* request,
    scheduling_v1::GetFacilitatorCalendarResponse* response) {
  return handler_.Unary<scheduling_v1::GetFacilitatorCalendarResponse>(
      context, "GetFacilitatorCalendar", response,
      [&](const Call& call)
          -> absl::StatusOr<scheduling_v1::GetFacilitatorCalendarResponse> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        if (call.caller.role == Role::kFacilitator &&
            call.caller.subject != request->facilitator_id()) {
          return absl::PermissionDeniedError(
              "a facilitator may read only their own calendar");
        }
        // The page key: the last booking given, as "<start micros>/<case>/<booking>".
        std::tuple<int64_t, std::string, std::string> after{INT64_MIN, "", ""};
        if (!request->page_token().empty()) {
          MEND_ASSIGN_OR_RETURN(std::string key, DecodePageToken("GetFacilitatorCalendar",
                                                                 request->page_token()));
          std::vector<std::string> parts = absl::StrSplit(key, absl::MaxSplits('/', 2));
          int64_t micros = 0;
          if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &micros)) {
            return absl::InvalidArgumentError("page_token: is not a calendar page token");
          }
          after = {micros, parts[1], parts[2]};
        }
        const int32_t page_size =
            request->page_size() == 0 ? kDefaultCalendarPageSize : request->page_size();
        std::vector<BusySlot> slots =
            OthersOf({request->facilitator_id()},
                     absl::FromUnixMicros(request->from_unix_micros()),
                     absl::FromUnixMicros(request->to_unix_micros()));
        scheduling_v1::GetFacilitatorCalendarResponse out;
        out.set_facilitator_id(request->facilitator_id());
        for (const BusySlot& slot : slots) {
          const auto key = std::make_tuple(absl::ToUnixMicros(slot.start), slot.case_id,
                                           slot.booking_id);
          if (key <= after) continue;
          if (out.bookings_size() == page_size) {
            const scheduling_v1::Booking& last = *out.bookings().rbegin();
            out.set_next_page_token(
                EncodePageToken("GetFacilitatorCalendar",
                                absl::StrCat(last.slot().start_unix_micros(), "/",
                                             last.case_id(), "/", last.booking_id())));
            break;
          }
          absl::Status read = path_.Read(
              slot.case_id,
              [&](const ScheduleState& s) {
                if (const BookingFacts* b = s.FindBooking(slot.booking_id)) {
                  *out.add_bookings() = BookingView(s.case_id, *b);
                }
                return absl::OkStatus();
              },
              [] { return absl::OkStatus(); });
          MEND_RETURN_IF_ERROR(read);
        }
        return out;
      });
}

}  // namespace mend::schedulingsvc

// CaseServiceImpl's commands about people across cases (case_people.h):
// EraseParticipant and LinkParticipant, each one atomic write to every case
// it touches (CommandPath::ExecuteAcross), the cases locked in id order.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "services/case/case_service.h"
#include "services/case/case_validation.h"

namespace mend::casesvc {
namespace {

// A decision over several cases as the command path appends it.
absl::StatusOr<std::vector<CaseServiceImpl::Path::AggregateAppend>> ToAppends(
    absl::StatusOr<std::vector<CaseAppend>> appends) {
  if (!appends.ok()) return appends.status();
  std::vector<CaseServiceImpl::Path::AggregateAppend> out;
  for (CaseAppend& a : *appends) {
    auto& append = out.emplace_back();
    append.aggregate_id = std::move(a.case_id);
    for (const DomainEvent& e : a.events) {
      append.events.push_back({e.type(), e.SerializePayload()});
    }
  }
  return out;
}

}  // namespace

template <typename Request, typename ReachFn, typename DecideFn>
absl::StatusOr<case_v1::CommandResult> CaseServiceImpl::RunAcross(const Call& call,
                                                                  const Request& request,
                                                                  ReachFn reach,
                                                                  DecideFn decide) {
  MEND_ASSIGN_OR_RETURN(
      auto outcome,
      path_.ExecuteAcross(
          CommandFor(call, request, request.case_id(), ExpectedVersionOf(request)), reach,
          [&](const Path::States& states, const CommandContext& ctx) {
            return ToAppends(decide(states, ctx));
          }));
  return outcome.answer;
}

absl::Status CaseServiceImpl::EnsureGroupErased(const CasePerson& person) {
  // Copies of every case the person is linked in, read as FindLinkedGroup
  // asks for them.
  std::map<std::string, CaseState, std::less<>> copies;
  CaseStates states;
  for (;;) {
    LinkedGroup group = FindLinkedGroup(states, person);
    if (states.empty()) group.missing_cases = {person.case_id};
    if (group.missing_cases.empty()) {
      for (const CasePerson& p : group.people) {
        const CaseState* state = states.at(p.case_id);
        const ParticipantState* participant = state->FindParticipant(p.participant_id);
        if (participant != nullptr && participant->erased) {
          MEND_RETURN_IF_ERROR(EnsureErased(PersonKeyId(p.case_id, p.participant_id)));
        }
      }
      return absl::OkStatus();
    }
    for (const std::string& id : group.missing_cases) {
      CaseState& copy = copies[id];
      MEND_RETURN_IF_ERROR(path_.Read(
          id,
          [&](const CaseState& found) {
            copy = found;
            return absl::OkStatus();
          },
          [] { return absl::OkStatus(); }));
      states[id] = &copy;
    }
  }
}

grpc::ServerUnaryReactor* CaseServiceImpl::EraseParticipant(
    grpc::CallbackServerContext* context, const case_v1::EraseParticipantRequest* request,
    case_v1::CommandResult* response) {
  return handler_.Unary<case_v1::CommandResult>(
      context, "EraseParticipant", response,
      [&](const Call& call) -> absl::StatusOr<case_v1::CommandResult> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        const EraseParticipantCommand command{
            request->case_id(), request->participant_id(), request->basis(),
            request->reason(), options_.retention_period};
        const CasePerson person{request->case_id(), request->participant_id()};
        MEND_ASSIGN_OR_RETURN(
            case_v1::CommandResult result,
            RunAcross(
                call, *request,
                // Every case the person is linked in.
                [&](const Path::States& states) {
                  return FindLinkedGroup(states, person).missing_cases;
                },
                [&](const Path::States& states, const CommandContext& ctx) {
                  return DecideEraseParticipant(states, command, ctx);
                }));
        // The events are durable: now the keys go (a retry of a command
        // whose key deletion failed deletes them now; replay does too).
        MEND_RETURN_IF_ERROR(EnsureGroupErased(person));
        return result;
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::LinkParticipant(
    grpc::CallbackServerContext* context, const case_v1::LinkParticipantRequest* request,
    case_v1::CommandResult* response) {
  return handler_.Unary<case_v1::CommandResult>(
      context, "LinkParticipant", response,
      [&](const Call& call) -> absl::StatusOr<case_v1::CommandResult> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        const LinkParticipantCommand command{
            .case_id = request->case_id(),
            .participant_id = request->participant_id(),
            .other_case_id = request->other_case_id(),
            .other_participant_id = request->other_participant_id(),
            .reason = request->reason()};
        return RunAcross(
            call, *request,
            [&](const Path::States& states) {
              std::vector<std::string> missing;
              if (!states.contains(request->other_case_id())) {
                missing.push_back(request->other_case_id());
              }
              return missing;
            },
            [&](const Path::States& states,
                const CommandContext& ctx) -> absl::StatusOr<std::vector<CaseAppend>> {
              const CaseState& other = *states.at(request->other_case_id());
              if (request->has_other_expected_version() &&
                  request->other_expected_version() != other.version) {
                return absl::AbortedError(
                    absl::StrCat("LinkParticipant: ", Quoted(request->other_case_id()),
                                 " is at version ", other.version, ", not the expected ",
                                 request->other_expected_version()));
              }
              return DecideLinkParticipant(*states.at(request->case_id()), other, command,
                                           ctx);
            });
      });
}

}  // namespace mend::casesvc

// CaseServiceImpl's reads: GetCase and ListCases, answered from the folded
// state, unsealed as the caller may read it (I5).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/page_token.h"
#include "common/base/status_macros.h"
#include "services/case/case_service.h"
#include "services/case/case_validation.h"
#include "services/case/case_view.h"

namespace mend::casesvc {
namespace {

constexpr int kDefaultPageSize = 50;

}  // namespace

absl::StatusOr<case_v1::CaseView> CaseServiceImpl::View(const CaseState& state,
                                                        const Caller& caller) {
  return BuildCaseView(
      state, caller,
      [this](std::string_view key_id, const common_v1::Sealed& s,
             std::string_view field) { return Unseal(key_id, s, field); });
}

grpc::ServerUnaryReactor* CaseServiceImpl::GetCase(grpc::CallbackServerContext* context,
                                                   const case_v1::GetCaseRequest* request,
                                                   case_v1::CaseView* response) {
  return handler_.Unary<case_v1::CaseView>(
      context, "GetCase", response,
      [&](const Call& call) -> absl::StatusOr<case_v1::CaseView> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        MEND_RETURN_IF_ERROR(WaitFor(request->causal_token(), call.deadline));
        CaseState state;
        MEND_RETURN_IF_ERROR(path_.Read(
            request->case_id(),
            [&](const CaseState& found) {
              MEND_RETURN_IF_ERROR(CanRead(request->case_id(), found, call.caller));
              state = found;
              return absl::OkStatus();
            },
            // A facilitator hears the same for an unknown case as for one
            // not allocated to them.
            [&] { return CanRead(request->case_id(), CaseState(), call.caller); }));
        return View(state, call.caller);
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::ListCases(
    grpc::CallbackServerContext* context, const case_v1::ListCasesRequest* request,
    case_v1::ListCasesResponse* response) {
  return handler_.Unary<case_v1::ListCasesResponse>(
      context, "ListCases", response,
      [&](const Call& call) -> absl::StatusOr<case_v1::ListCasesResponse> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        MEND_RETURN_IF_ERROR(WaitFor(request->causal_token(), call.deadline));
        // The key is the last case id of the previous page.
        MEND_ASSIGN_OR_RETURN(std::string after,
                              DecodePageToken("ListCases", request->page_token()));
        const int page_size =
            request->page_size() == 0 ? kDefaultPageSize : request->page_size();
        const Caller& caller = call.caller;
        std::vector<CaseState> page;
        bool more = false;
        path_.ForEachAfter(after, [&](const std::string&, const CaseState& state) {
          if (!state.exists()) return true;
          // Facilitators see only the cases allocated to them.
          if (caller.role == Role::kFacilitator && !state.IsAllocated(caller.subject)) {
            return true;
          }
          if (request->stage() != case_v1::STAGE_UNSPECIFIED &&
              state.stage != request->stage()) {
            return true;
          }
          if (!request->facilitator_id().empty() &&
              !state.IsAllocated(request->facilitator_id())) {
            return true;
          }
          if (state.updated_unix_micros < request->updated_since_unix_micros())
            return true;
          if (static_cast<int>(page.size()) == page_size) {
            more = true;
            return false;
          }
          page.push_back(state);
          return true;
        });
        case_v1::ListCasesResponse out;
        for (const CaseState& state : page) {
          MEND_ASSIGN_OR_RETURN(*out.add_cases(), View(state, caller));
        }
        if (more && !page.empty()) {
          out.set_next_page_token(EncodePageToken("ListCases", page.back().case_id));
        }
        return out;
      });
}

}  // namespace mend::casesvc

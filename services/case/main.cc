// mend-case: the case service (mend.case.v1.CaseService, and EventLog over
// its own log). See README.md, "Case service".
//
// It refuses to start without --master_key: every referral carries personal
// data, which must never be stored in plain text (I6).
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/base/config.h"
#include "common/runtime/service_runtime.h"
#include "services/case/case_decide.h"
#include "services/case/case_service.h"

ABSL_FLAG(absl::Duration, retention_period, mend::casesvc::kDefaultRetentionPeriod,
          "how long a closed case's personal data is kept: EraseParticipant with basis "
          "RETENTION_PERIOD_ELAPSED is allowed once this has passed since the case was "
          "closed (default 52560h = 2190 days, six years; whole seconds)");

int main(int argc, char** argv) {
  mend::BlockTerminationSignals();
  mend::ParseFlagsWithEnvironment(argc, argv);
  mend::ServiceRuntime::Options options = mend::ServiceRuntime::OptionsFromFlags("case");
  mend::casesvc::CaseServiceImpl::Options case_options;
  case_options.retention_period = absl::GetFlag(FLAGS_retention_period);
  if (absl::Status s =
          mend::casesvc::ValidateRetentionPeriod(case_options.retention_period);
      !s.ok()) {
    mend::ExitWithFlagError("retention_period", std::string(s.message()));
  }
  if (options.master_key.empty()) {
    return mend::ExitOnError(absl::FailedPreconditionError(
        "--master_key is required: the case service seals personal data with per-person "
        "keys and never stores it in plain text (make a key file with "
        "`(umask 077; openssl rand -hex 32 > master.key)`)"));
  }
  options.policies = {&mend::casesvc::CasePolicy()};
  auto runtime = mend::ServiceRuntime::Create(options);
  if (!runtime.ok()) return mend::ExitOnError(runtime.status());

  mend::casesvc::CaseServiceImpl service(runtime->get(), case_options);
  (*runtime)->RegisterService(&service);
  (*runtime)->SetReplay([&](const mend::ReplayedEvent& e) { return service.Apply(e); });
  // No upstreams yet: the stages after PREPARING follow the scheduling and
  // conference services' events, which later issues add as followers.
  if (absl::Status s = (*runtime)->Start(); !s.ok()) return mend::ExitOnError(s);
  (*runtime)->RunUntilSignal();
  return 0;
}

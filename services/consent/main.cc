// mend-consent: the consent service (mend.consent.v1.ConsentService, and
// EventLog over its own log). It follows the case service's log
// (--upstream_case). See README.md, "Consent service and the contact gate".
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "common/base/config.h"
#include "common/runtime/service_runtime.h"
#include "services/consent/consent_service.h"

ABSL_FLAG(std::string, upstream_case, "",
          "address (host:port) of the case service, whose log this service follows; "
          "required");

int main(int argc, char** argv) {
  mend::BlockTerminationSignals();
  mend::ParseFlagsWithEnvironment(argc, argv);
  mend::ServiceRuntime::Options options =
      mend::ServiceRuntime::OptionsFromFlags("consent");
  const std::string upstream_case = absl::GetFlag(FLAGS_upstream_case);
  if (upstream_case.empty()) {
    mend::ExitWithFlagError("upstream_case",
                            "required: the consent service decides on the case service's "
                            "facts and must follow its log");
  }
  options.policies = {&mend::consentsvc::ConsentPolicy()};
  auto runtime = mend::ServiceRuntime::Create(options);
  if (!runtime.ok()) return mend::ExitOnError(runtime.status());

  mend::consentsvc::ConsentServiceImpl service(runtime->get());
  (*runtime)->RegisterService(&service);
  (*runtime)->SetReplay([&](const mend::ReplayedEvent& e) { return service.Apply(e); });
  auto follower = (*runtime)->AddFollower(
      "case", upstream_case, &mend::consentsvc::ConsentServiceImpl::ObserveCase,
      [&](const mend::eventlog::WriteRequest& r, const mend::eventlog::WriteResult& w) {
        service.Observed(r, w);
      });
  if (!follower.ok()) return mend::ExitOnError(follower.status());
  service.SetCaseFollower(*follower);
  if (absl::Status s = (*runtime)->Start(); !s.ok()) return mend::ExitOnError(s);
  (*runtime)->RunUntilSignal();
  return 0;
}

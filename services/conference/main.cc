// mend-conference: the conference service (mend.conference.v1.ConferenceService,
// and EventLog over its own log). It follows the case (--upstream_case),
// consent (--upstream_consent) and scheduling (--upstream_scheduling) logs,
// and asks the consent service's contact gate (DecideContact, at
// --upstream_consent) at the moment of every contact. See README.md,
// "Conference service".
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "common/base/config.h"
#include "common/runtime/service_runtime.h"
#include "services/conference/conference_service.h"

ABSL_FLAG(std::string, upstream_case, "",
          "address (host:port) of the case service, whose log this service follows; "
          "required");
ABSL_FLAG(std::string, upstream_consent, "",
          "address (host:port) of the consent service, whose log this service follows "
          "and whose contact gate it asks; required");
ABSL_FLAG(std::string, upstream_scheduling, "",
          "address (host:port) of the scheduling service, whose log (conference and "
          "preparation bookings) this service follows; required");

int main(int argc, char** argv) {
  mend::BlockTerminationSignals();
  mend::ParseFlagsWithEnvironment(argc, argv);
  mend::ServiceRuntime::Options options =
      mend::ServiceRuntime::OptionsFromFlags("conference");
  const std::string upstream_case = absl::GetFlag(FLAGS_upstream_case);
  const std::string upstream_consent = absl::GetFlag(FLAGS_upstream_consent);
  const std::string upstream_scheduling = absl::GetFlag(FLAGS_upstream_scheduling);
  if (upstream_case.empty()) {
    mend::ExitWithFlagError("upstream_case",
                            "required: contact depends on the case's participants, "
                            "allocations, pauses and closures");
  }
  if (upstream_consent.empty()) {
    mend::ExitWithFlagError("upstream_consent",
                            "required: every contact needs the contact gate, and "
                            "withdrawals stop contact");
  }
  if (upstream_scheduling.empty()) {
    mend::ExitWithFlagError("upstream_scheduling",
                            "required: conferences and preparation meetings are booked "
                            "there");
  }
  options.policies = {&mend::conferencesvc::ConferencePolicy()};
  auto runtime = mend::ServiceRuntime::Create(options);
  if (!runtime.ok()) return mend::ExitOnError(runtime.status());

  auto consent = (*runtime)->ClientChannel(upstream_consent);
  if (!consent.ok()) return mend::ExitOnError(consent.status());
  mend::conferencesvc::ConferenceServiceImpl service(runtime->get(), *consent);
  (*runtime)->RegisterService(&service);
  (*runtime)->SetReplay([&](const mend::ReplayedEvent& e) { return service.Apply(e); });
  auto committed = [&](const mend::eventlog::WriteRequest& r,
                       const mend::eventlog::WriteResult& w) { service.Observed(r, w); };
  auto case_follower = (*runtime)->AddFollower(
      "case", upstream_case,
      [&](absl::Span<const mend::UpstreamEvent> e) { return service.ObserveCase(e); },
      committed);
  if (!case_follower.ok()) return mend::ExitOnError(case_follower.status());
  auto consent_follower = (*runtime)->AddFollower(
      "consent", upstream_consent,
      [&](absl::Span<const mend::UpstreamEvent> e) { return service.ObserveConsent(e); },
      committed);
  if (!consent_follower.ok()) return mend::ExitOnError(consent_follower.status());
  auto scheduling_follower = (*runtime)->AddFollower(
      "scheduling", upstream_scheduling,
      [&](absl::Span<const mend::UpstreamEvent> e) {
        return service.ObserveScheduling(e);
      },
      committed);
  if (!scheduling_follower.ok()) return mend::ExitOnError(scheduling_follower.status());
  service.SetFollowers(*case_follower, *consent_follower, *scheduling_follower);
  if (absl::Status s = (*runtime)->Start(); !s.ok()) return mend::ExitOnError(s);
  (*runtime)->RunUntilSignal();
  return 0;
}

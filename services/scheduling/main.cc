// mend-scheduling: the scheduling service (mend.scheduling.v1.SchedulingService,
// and EventLog over its own log). It follows the case log (--upstream_case)
// and the consent log (--upstream_consent), and asks the consent service's
// contact gate (DecideContact, at --upstream_consent) before any booking
// with a victim. See README.md, "Scheduling service".
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/base/config.h"
#include "common/runtime/service_runtime.h"
#include "services/scheduling/scheduling_service.h"

ABSL_FLAG(std::string, upstream_case, "",
          "address (host:port) of the case service, whose log this service follows; "
          "required");
ABSL_FLAG(std::string, upstream_consent, "",
          "address (host:port) of the consent service, whose log this service follows "
          "and whose contact gate it asks; required");
ABSL_FLAG(absl::Duration, arrival_gap, absl::Minutes(15),
          "staggered arrivals at a conference: the service user's side arrives twice "
          "this before the start, the victim's side this before (1m..2h)");
ABSL_FLAG(absl::Duration, decide_timeout, absl::Seconds(10),
          "the bound on each contact decision a resume cascade asks for (1s..5m)");
ABSL_FLAG(absl::Duration, attendance_before_start, absl::ZeroDuration(),
          "how long before a session's start its attendance may already be recorded "
          "(0..8784h): 0, the default, is once it has started. Only for a training or "
          "demonstration environment that runs a twelve-week programme through in "
          "minutes (mend-scenario); never in production");

int main(int argc, char** argv) {
  mend::BlockTerminationSignals();
  mend::ParseFlagsWithEnvironment(argc, argv);
  mend::ServiceRuntime::Options options =
      mend::ServiceRuntime::OptionsFromFlags("scheduling");
  const std::string upstream_case = absl::GetFlag(FLAGS_upstream_case);
  const std::string upstream_consent = absl::GetFlag(FLAGS_upstream_consent);
  if (upstream_case.empty()) {
    mend::ExitWithFlagError(
        "upstream_case",
        "required: bookings depend on the case service's allocations, "
        "pauses and closures");
  }
  if (upstream_consent.empty()) {
    mend::ExitWithFlagError("upstream_consent",
                            "required: bookings with a victim need the contact gate, and "
                            "withdrawals cancel them");
  }
  mend::schedulingsvc::SchedulingServiceImpl::Options service_options{
      .arrival_gap = absl::GetFlag(FLAGS_arrival_gap),
      .decide_timeout = absl::GetFlag(FLAGS_decide_timeout),
      .attendance_before_start = absl::GetFlag(FLAGS_attendance_before_start)};
  if (service_options.arrival_gap < absl::Minutes(1) ||
      service_options.arrival_gap > absl::Hours(2)) {
    mend::ExitWithFlagError("arrival_gap", "must be 1m..2h");
  }
  if (service_options.decide_timeout < absl::Seconds(1) ||
      service_options.decide_timeout > absl::Minutes(5)) {
    mend::ExitWithFlagError("decide_timeout", "must be 1s..5m");
  }
  if (service_options.attendance_before_start < absl::ZeroDuration() ||
      service_options.attendance_before_start > absl::Hours(8784)) {
    mend::ExitWithFlagError("attendance_before_start", "must be 0..8784h (366 days)");
  }
  options.policies = {&mend::schedulingsvc::SchedulingPolicy()};
  auto runtime = mend::ServiceRuntime::Create(options);
  if (!runtime.ok()) return mend::ExitOnError(runtime.status());

  auto consent = (*runtime)->ClientChannel(upstream_consent);
  if (!consent.ok()) return mend::ExitOnError(consent.status());
  mend::schedulingsvc::SchedulingServiceImpl service(runtime->get(), *consent,
                                                     service_options);
  (*runtime)->RegisterService(&service);
  (*runtime)->SetReplay([&](const mend::ReplayedEvent& e) { return service.Apply(e); });
  auto committed = [&](const mend::eventlog::WriteRequest& r,
                       const mend::eventlog::WriteResult& w) { service.Observed(r, w); };
  auto case_follower = (*runtime)->AddFollower(
      "case", upstream_case,
      [&](absl::Span<const mend::UpstreamEvent> events) {
        return service.ObserveCase(events);
      },
      committed);
  if (!case_follower.ok()) return mend::ExitOnError(case_follower.status());
  auto consent_follower = (*runtime)->AddFollower(
      "consent", upstream_consent,
      [&](absl::Span<const mend::UpstreamEvent> events) {
        return service.ObserveConsent(events);
      },
      committed);
  if (!consent_follower.ok()) return mend::ExitOnError(consent_follower.status());
  service.SetFollowers(*case_follower, *consent_follower);
  if (absl::Status s = (*runtime)->Start(); !s.ok()) return mend::ExitOnError(s);
  (*runtime)->RunUntilSignal();
  return 0;
}

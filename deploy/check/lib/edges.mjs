// mend's subscription edges, written once: a downstream dials the upstream
// whose log it follows (services/*/main.cc: --upstream_case, ...). The
// contact gate rides the consent edges: scheduling and conference call
// consent's DecideContact at --upstream_consent (DESIGN.md, "The contact gate
// is synchronous").
//
// Every row of DESIGN.md's table ("Services") is live: case follows
// scheduling (programme completed, conference bookings) and conference
// (conference held, follow-up done) with --upstream_scheduling and
// --upstream_conference (services/case/main.cc), so case and scheduling, and
// case and conference, dial each other. network_policy_check.mjs --binary
// compares this list with the flags the binaries accept.
export const kEdges = [
  ["consent", "case"],
  ["scheduling", "case"],
  ["scheduling", "consent"],
  ["conference", "case"],
  ["conference", "consent"],
  ["conference", "scheduling"],
  ["case", "scheduling"],
  ["case", "conference"],
];

export const kServices = ["case", "consent", "scheduling", "conference"];

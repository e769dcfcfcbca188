// mend's subscription edges, written once: a downstream dials the upstream
// whose log it follows (services/*/main.cc: --upstream_case, ...). The
// contact gate rides the consent edges: scheduling and conference call
// consent's DecideContact at --upstream_consent (DESIGN.md, "The contact gate
// is synchronous").
//
// DESIGN.md's table ("Services") also has case listening to scheduling
// (programme completed) and conference (conference held, follow-up done):
// mend-case follows no upstream yet (services/case/main.cc, "No upstreams
// yet"; it accepts no --upstream_* flag), so those are not edges.
// network_policy_check.mjs --binary compares this list with the flags the
// binaries accept.
export const kEdges = [
  ["consent", "case"],
  ["scheduling", "case"],
  ["scheduling", "consent"],
  ["conference", "case"],
  ["conference", "consent"],
  ["conference", "scheduling"],
];

export const kServices = ["case", "consent", "scheduling", "conference"];

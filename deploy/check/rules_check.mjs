// The alerting rules use only metrics that exist, and every alert is tested
// both ways:
//   - every metric an expression selects is exported by the services (the
//     list services_live.mjs scraped from the running binaries) or is one of
//     kExternal, named with who exports it;
//   - for every alert, the promtool test file has a case where it fires
//     (exp_alerts not empty) and one where it must not (exp_alerts empty);
//     `promtool test rules` (deploy/CMakeLists.txt) proves they hold.
//
//   node rules_check.mjs --metrics FILE --rules FILE --tests FILE
//       [--refuse-rules FILE ...] [--refuse-tests FILE ...]
// A --refuse-* file must be refused (with the real tests, or the real
// rules), with the problem its first line names: "# expect: <substring>".
import fs from "node:fs";
import {yaml} from "./lib/deps.mjs";
import {expectRefusals, parseArgs} from "./lib/harness.mjs";
import {exportedSeries, metricNames} from "./lib/promql.mjs";

// Metrics the rules may use that mend does not export.
const kExternal = new Map([
  ["up", "Prometheus itself: 1 when a target's scrape succeeded"],
  ["kube_job_failed", "kube-state-metrics: a Job's Failed condition"],
]);

const {flags} = parseArgs(process.argv.slice(2));
const exported = exportedSeries(fs.readFileSync(flags.metrics[0], "utf8"));

function rulesOf(file) {
  return (yaml.load(fs.readFileSync(file, "utf8")).groups ?? []).flatMap((g) => g.rules ?? []);
}

function check(rulesFile, testsFile) {
  const problems = [];
  const rules = rulesOf(rulesFile);
  const recorded = new Set(rules.filter((r) => r.record).map((r) => r.record));
  for (const r of rules) {
    const name = r.alert ?? r.record;
    for (const metric of metricNames(String(r.expr))) {
      if (!exported.has(metric) && !kExternal.has(metric) && !recorded.has(metric)) {
        problems.push(`${name}: ${metric} is not a metric the services export (nor a known external one)`);
      }
    }
  }
  const tests = yaml.load(fs.readFileSync(testsFile, "utf8")).tests ?? [];
  const cases = tests.flatMap((t) => t.alert_rule_test ?? []);
  for (const r of rules.filter((x) => x.alert)) {
    const mine = cases.filter((c) => c.alertname === r.alert);
    if (!mine.some((c) => (c.exp_alerts ?? []).length > 0)) {
      problems.push(`${r.alert}: no test where it fires`);
    }
    if (!mine.some((c) => (c.exp_alerts ?? []).length === 0)) {
      problems.push(`${r.alert}: no test where it must not fire`);
    }
  }
  return problems;
}

let failed = 0;
const real = check(flags.rules[0], flags.tests[0]);
for (const p of real) {
  failed++;
  console.log(`FAIL: ${p}`);
}
if (real.length === 0) {
  const used = new Set(rulesOf(flags.rules[0]).flatMap((r) => metricNames(String(r.expr))));
  console.log(`ok: ${flags.rules[0]}: every alert tested both ways; metrics: ${[...used].sort().join(", ")}`);
  for (const m of used) if (kExternal.has(m)) console.log(`    ${m}: ${kExternal.get(m)}`);
}
const refuse = [
  ...(flags["refuse-rules"] ?? []).map((f) => [f, () => check(f, flags.tests[0])]),
  ...(flags["refuse-tests"] ?? []).map((f) => [f, () => check(flags.rules[0], f)]),
];
failed += expectRefusals(refuse.map(([file, run]) => [
  file, /^# expect: (.*)$/m.exec(fs.readFileSync(file, "utf8"))?.[1], run]));
console.log(failed === 0 ? "all checks passed" : `${failed} check(s) failed`);
process.exitCode = failed === 0 ? 0 : 1;

// Every MEND_* variable a mend container gets from its ConfigMaps, and every
// argument of its command, is one its binary accepts. A binary ignores
// variables that name no flag (common/base/config.h), so a misspelt one would
// silently do nothing: each variable is passed to the real binary as the
// flag it stands for (MEND_UPSTREAM_CASE=x -> --upstream_case=x) with
// --only_check_args, and the binary's own check (CheckCommandLine in
// common/base/config.cc: exit 2 for an unknown flag or a value that does not
// parse) must pass. And every ConfigMap's variables reach some mend
// container, and are all MEND_* ones.
//
//   node flags_check.mjs --binary mend-case=PATH ... --rendering prod=FILE ...
//       [--mutations FILE]
import path from "node:path";
import {spawnSync} from "node:child_process";
import {containersOf, environmentOf, loadObjects, podTemplates} from "./lib/manifests.mjs";
import {parseArgs, runWithMutations, renderingsFrom} from "./lib/harness.mjs";

const {flags} = parseArgs(process.argv.slice(2));
const binaries = new Map((flags.binary ?? []).map((b) => b.split("=")));
const runs = new Map();  // argument list -> problem or ""

function flagOf(variable) {
  return variable.slice("MEND_".length).toLowerCase();
}

function run(binary, args) {
  const key = JSON.stringify([binary, args]);
  if (!runs.has(key)) {
    const r = spawnSync(binary, [...args, "--only_check_args"], {encoding: "utf8", timeout: 20000,
                                                                 env: {PATH: process.env.PATH}});
    runs.set(key, r.status === 0 ? "" : `exit ${r.status}: ${(r.stderr || r.stdout).trim()}`);
  }
  return runs.get(key);
}

function check(objects) {
  const problems = [];
  let checked = 0;
  for (const pod of podTemplates(objects)) {
    for (const c of containersOf(pod.spec)) {
      const command = [...(c.command ?? []), ...(c.args ?? [])];
      const program = path.basename(command[0] ?? "");
      if (!program.startsWith("mend")) continue;  // e.g. /usr/bin/install
      const binary = binaries.get(program);
      if (binary === undefined) {
        problems.push(`${pod.name}/${c.name}: runs ${program}, which no --binary names`);
        continue;
      }
      const {env, missing} = environmentOf(c, objects);
      for (const m of missing) problems.push(`${pod.name}/${c.name}: no ConfigMap ${m}`);
      const args = command.slice(1);
      for (const [k, v] of env) if (k.startsWith("MEND_")) args.push(`--${flagOf(k)}=${v}`);
      const problem = run(binary, args);
      checked++;
      if (problem) problems.push(`${pod.name}/${c.name}: ${program} refuses its configuration: ${problem}`);
    }
  }
  if (checked === 0) problems.push("no container runs a mend binary");
  // Every ConfigMap variable reaches a mend binary, which reads MEND_* only.
  const consumed = new Set();
  for (const pod of podTemplates(objects)) {
    for (const c of containersOf(pod.spec)) {
      for (const source of c.envFrom ?? []) consumed.add(source.configMapRef?.name);
    }
  }
  for (const cm of objects.filter((o) => o.kind === "ConfigMap")) {
    if (!consumed.has(cm.metadata.name)) {
      problems.push(`ConfigMap/${cm.metadata.name}: no container takes its variables`);
    }
    for (const k of Object.keys(cm.data ?? {})) {
      if (!k.startsWith("MEND_")) problems.push(`ConfigMap/${cm.metadata.name}: ${k} is not a MEND_* variable`);
    }
  }
  return problems;
}

process.exitCode = runWithMutations({
  check,
  renderings: renderingsFrom(flags, loadObjects),
  mutationsFile: flags.mutations?.[0],
});

// The way every check proves itself: it must find nothing in the real
// renderings, and it must find the named problem in each mutation of them.
//
// A mutations file (deploy/check/fixtures/<check>.yaml) is a list of
//   - name: what the mutation does
//     file: which rendering (dev, prod; default: the first)
//     target: {kind: StatefulSet, name: mend-case}   # the object to change
//                                                     # (a generated ConfigMap by its
//                                                     # name without the hash)
//     patch: [{op: remove|add|replace, path: /json/pointer, value: ...}]
//     changes: [{target: ..., patch: [...]}]           # more objects to change
//     add: [objects]                                   # objects to add
//     expect: a substring of the problem the check must report
// applied to a copy of the rendering. A mutation that the check does not
// refuse with its `expect` fails the test; so does one that does not apply
// (a path that no longer exists), so the fixtures cannot rot silently.
import fs from "node:fs";
import {yaml} from "./deps.mjs";

function unescape(token) {
  return token.replace(/~1/g, "/").replace(/~0/g, "~");
}

// RFC 6902 add, replace and remove; throws when the path does not resolve.
export function applyPatch(doc, patch) {
  for (const op of patch) {
    const tokens = op.path.split("/").slice(1).map(unescape);
    const last = tokens.pop();
    let parent = doc;
    for (const t of tokens) {
      if (parent == null || !(t in parent)) throw new Error(`no ${op.path}`);
      parent = parent[t];
    }
    if (parent == null || typeof parent !== "object") throw new Error(`no ${op.path}`);
    const isArray = Array.isArray(parent);
    switch (op.op) {
      case "add":
        if (isArray) {
          parent.splice(last === "-" ? parent.length : Number(last), 0, op.value);
        } else {
          parent[last] = op.value;
        }
        break;
      case "replace":
        if (!(last in parent)) throw new Error(`no ${op.path}`);
        parent[last] = op.value;
        break;
      case "remove":
        if (!(last in parent)) throw new Error(`no ${op.path}`);
        if (isArray) parent.splice(Number(last), 1);
        else delete parent[last];
        break;
      default:
        throw new Error(`unsupported op ${op.op}`);
    }
  }
  return doc;
}

// Applies one mutation to a deep copy of `objects`.
export function mutate(objects, mutation) {
  const copy = structuredClone(objects);
  const changes = [...(mutation.target ? [mutation] : []), ...(mutation.changes ?? [])];
  for (const change of changes) {
    const {kind, name} = change.target;
    // A generated ConfigMap's name has a content hash appended, which
    // differs between kustomize versions: its base name finds it.
    const target =
        copy.find((o) => o.kind === kind && o.metadata?.name === name) ??
        copy.find((o) => o.kind === kind && new RegExp(`^${name}-[a-z0-9]{8,10}$`).test(o.metadata?.name));
    if (target === undefined) throw new Error(`no ${kind}/${name} in the rendering`);
    applyPatch(target, change.patch ?? []);
  }
  for (const o of mutation.add ?? []) copy.push(o);
  return copy;
}

// Runs `check(objects, label) -> problems[]` on each rendering (must be
// clean) and on each mutation (must report its `expect`). Prints a line per
// case and returns the exit code.
export function runWithMutations({check, renderings, mutationsFile}) {
  let failed = 0;
  for (const {label, objects} of renderings) {
    const problems = check(objects, label);
    if (problems.length === 0) {
      console.log(`ok: ${label}: no problems`);
    } else {
      failed++;
      for (const p of problems) console.log(`FAIL: ${label}: ${p}`);
    }
  }
  const mutations = mutationsFile ? yaml.load(fs.readFileSync(mutationsFile, "utf8")) : [];
  for (const m of mutations) {
    const base = m.file ? renderings.find((r) => r.label === m.file) : renderings[0];
    if (base === undefined) {
      failed++;
      console.log(`FAIL: mutation "${m.name}": no rendering ${m.file}`);
      continue;
    }
    let problems;
    try {
      problems = check(mutate(base.objects, m), `${base.label}+mutation`);
    } catch (e) {
      failed++;
      console.log(`FAIL: mutation "${m.name}" does not apply: ${e.message}`);
      continue;
    }
    const hit = problems.find((p) => p.includes(m.expect));
    if (hit !== undefined) {
      console.log(`ok: refused mutation "${m.name}": ${hit}`);
    } else {
      failed++;
      console.log(`FAIL: mutation "${m.name}" was not refused with "${m.expect}"; ` +
                  `problems: ${problems.length ? problems.join(" | ") : "none"}`);
    }
  }
  console.log(failed === 0 ? "all checks passed" : `${failed} check(s) failed`);
  return failed === 0 ? 0 : 1;
}

// --name value pairs (repeatable: an array) and positional arguments.
export function parseArgs(argv) {
  const flags = {};
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const key = eq > 0 ? a.slice(2, eq) : a.slice(2);
      const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
      (flags[key] ??= []).push(value);
    } else {
      positional.push(a);
    }
  }
  return {flags, positional};
}

// --rendering label=file, repeated, as [{label, objects}].
export function renderingsFrom(flags, load) {
  return (flags.rendering ?? []).map((spec) => {
    const eq = spec.indexOf("=");
    return {label: spec.slice(0, eq), objects: load(spec.slice(eq + 1))};
  });
}

// Each bad fixture must be refused with the problem it expects: `refusals`
// is [file, expect, run] with run() the check's problems for that file.
// Prints a line for each; returns how many were not refused as expected.
export function expectRefusals(refusals) {
  let failed = 0;
  for (const [file, expect, run] of refusals) {
    const hit = expect && run().find((p) => p.includes(expect));
    if (hit) {
      console.log(`ok: refused ${file}: ${hit}`);
    } else {
      failed++;
      console.log(`FAIL: ${file} was not refused with "${expect}"`);
    }
  }
  return failed;
}

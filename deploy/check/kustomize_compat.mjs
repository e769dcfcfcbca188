// Every kustomization uses only what kustomize v2.0.3 (built into kubectl
// 1.20, Debian 12's kubernetes-client) understands, so the overlays render
// there as they do with a newer kubectl, which accepts much more: files (not
// directories) under `resources`, directories under `bases`, patches as
// files under `patchesStrategicMerge`/`patchesJson6902` (no `patches`, no
// inline patches), generators with `literals`/`files`/`behavior` (no `envs`,
// no `options`), no `labels`, `replacements`, `components`, `replicas`,
// `helmCharts`, `openapi`, `sortOptions`, `buildMetadata`.
//
//   node kustomize_compat.mjs --root deploy/k8s [--refuse DIR ...]
// --refuse: a kustomization directory that must be refused, with the problem
// named by its kustomization.yaml's first line, "# expect: <substring>".
import fs from "node:fs";
import path from "node:path";
import {yaml} from "./lib/deps.mjs";
import {parseArgs} from "./lib/harness.mjs";

const kTopLevel = new Set([
  "apiVersion", "kind", "resources", "bases", "namespace", "namePrefix", "nameSuffix",
  "commonLabels", "commonAnnotations", "configMapGenerator", "secretGenerator",
  "generatorOptions", "patchesStrategicMerge", "patchesJson6902", "images", "vars",
  "crds", "imageTags",
]);
const kGenerator = new Set(["name", "namespace", "behavior", "literals", "files", "env", "type"]);
const kGeneratorOptions = new Set(["labels", "annotations", "disableNameSuffixHash"]);
const kImage = new Set(["name", "newName", "newTag", "digest"]);
const kJson6902 = new Set(["target", "path"]);
const kTarget = new Set(["group", "version", "kind", "name", "namespace"]);

function unknownKeys(object, allowed, where, problems) {
  for (const k of Object.keys(object ?? {})) {
    if (!allowed.has(k)) problems.push(`${where}: "${k}" is not understood by kustomize v2.0.3`);
  }
}

function checkKustomization(dir) {
  const file = path.join(dir, "kustomization.yaml");
  const k = yaml.load(fs.readFileSync(file, "utf8")) ?? {};
  const problems = [];
  const at = path.relative(process.cwd(), file);
  unknownKeys(k, kTopLevel, at, problems);
  const isFile = (p) => fs.existsSync(path.join(dir, p)) && fs.statSync(path.join(dir, p)).isFile();
  const isDir = (p) => fs.existsSync(path.join(dir, p)) && fs.statSync(path.join(dir, p)).isDirectory();
  for (const r of k.resources ?? []) {
    if (!isFile(r)) problems.push(`${at}: resource ${r} is not a file (directories go under bases)`);
  }
  for (const b of k.bases ?? []) {
    if (!isDir(b)) problems.push(`${at}: base ${b} is not a directory`);
    else problems.push(...checkKustomization(path.join(dir, b)));
  }
  for (const p of k.patchesStrategicMerge ?? []) {
    if (typeof p !== "string" || p.includes("\n") || !isFile(p)) {
      problems.push(`${at}: patchesStrategicMerge entry ${JSON.stringify(p).slice(0, 40)} is not a file`);
    }
  }
  for (const p of k.patchesJson6902 ?? []) {
    unknownKeys(p, kJson6902, `${at}: patchesJson6902`, problems);
    unknownKeys(p.target, kTarget, `${at}: patchesJson6902 target`, problems);
    if (typeof p.path !== "string" || !isFile(p.path)) {
      problems.push(`${at}: patchesJson6902 needs a patch file in path`);
    }
  }
  for (const g of [...(k.configMapGenerator ?? []), ...(k.secretGenerator ?? [])]) {
    unknownKeys(g, kGenerator, `${at}: generator ${g.name}`, problems);
  }
  unknownKeys(k.generatorOptions, kGeneratorOptions, `${at}: generatorOptions`, problems);
  for (const i of k.images ?? []) unknownKeys(i, kImage, `${at}: image ${i.name}`, problems);
  return problems;
}

function kustomizationDirs(root) {
  const out = [];
  for (const e of fs.readdirSync(root, {withFileTypes: true})) {
    const p = path.join(root, e.name);
    if (e.isDirectory()) out.push(...kustomizationDirs(p));
    else if (e.name === "kustomization.yaml") out.push(root);
  }
  return out;
}

const {flags} = parseArgs(process.argv.slice(2));
let failed = 0;
const dirs = kustomizationDirs(flags.root?.[0] ?? ".");
if (dirs.length === 0) {
  console.log("FAIL: no kustomization.yaml found");
  failed++;
}
for (const dir of dirs) {
  const problems = [...new Set(checkKustomization(dir))];
  if (problems.length === 0) console.log(`ok: ${dir}`);
  for (const p of problems) {
    failed++;
    console.log(`FAIL: ${p}`);
  }
}
for (const dir of flags.refuse ?? []) {
  const text = fs.readFileSync(path.join(dir, "kustomization.yaml"), "utf8");
  const expect = /^# expect: (.*)$/m.exec(text)?.[1];
  const problems = checkKustomization(dir);
  const hit = expect && problems.find((p) => p.includes(expect));
  if (hit) {
    console.log(`ok: refused ${dir}: ${hit}`);
  } else {
    failed++;
    console.log(`FAIL: ${dir} was not refused with "${expect}"; problems: ${problems.join(" | ") || "none"}`);
  }
}
console.log(failed === 0 ? "all checks passed" : `${failed} check(s) failed`);
process.exitCode = failed === 0 ? 0 : 1;

// Every rendered object validates against the Kubernetes API schemas of the
// npm package kubernetes-models (Kubernetes 1.27's OpenAPI: types, required
// fields, enums), and has no field those schemas do not define. The package's
// JSON schemas allow unknown fields (the API server drops them, or with
// strict field validation refuses them): a misspelt `readinesProbe` would
// pass them, so each object is also walked against the model's TypeScript
// declarations (.d.ts), which list every field of every type.
//
//   node schema_check.mjs --rendering prod=FILE ... [--mutations FILE]
import fs from "node:fs";
import path from "node:path";
import {requireDep as require} from "./lib/deps.mjs";
import {loadObjects, ref} from "./lib/manifests.mjs";
import {parseArgs, runWithMutations, renderingsFrom} from "./lib/harness.mjs";

const {flags} = parseArgs(process.argv.slice(2));

// "apps/v1" + "StatefulSet" -> kubernetes-models/apps/v1/StatefulSet.
function modelPath(apiVersion, kind) {
  const parts = String(apiVersion).split("/");
  const dir = parts.length === 1 ? parts[0] : `${parts[0]}/${parts[1]}`;
  return `kubernetes-models/${dir}/${kind}`;
}

// --- the declarations: interface name -> {field -> type expression} ---

const declarations = new Map();  // resolved .d.ts path -> {imports, fields, alias}

function parseDeclarations(file) {
  if (declarations.has(file)) return declarations.get(file);
  const text = fs.readFileSync(file, "utf8");
  const imports = new Map();
  for (const m of text.matchAll(/^import \{ (\w+) \} from "([^"]+)";$/gm)) {
    imports.set(m[1], m[2]);
  }
  // The first exported interface is the type itself; a file with only a
  // `type X = string | number` alias (Quantity, IntOrString) has none.
  let fields = null;
  const start = text.search(/^export interface \w+( extends [\w, ]+)? \{$/m);
  if (start >= 0) {
    fields = new Map();
    const lines = text.slice(start).split("\n").slice(1);
    for (let i = 0; i < lines.length && lines[i] !== "}"; i++) {
      const m = /^ {4}"([^"]+)"\??: (.*)$/.exec(lines[i]);
      if (m === null) continue;
      let type = m[2];
      if (type === "{") {  // a map: {\n [key: string]: T;\n }
        const value = /\[key: string\]: (.*);$/.exec(lines[i + 1] ?? "");
        type = value ? `Map<${value[1]}>` : "unknown";
        i += 2;
      } else {
        type = type.replace(/;$/, "");
      }
      fields.set(m[1], type);
    }
  }
  const parsed = {dir: path.dirname(file), imports, fields};
  declarations.set(file, parsed);
  return parsed;
}

function resolveImport(fromDecl, name) {
  const spec = fromDecl.imports.get(name);
  if (spec === undefined) return null;
  const base = spec.startsWith(".") ? path.resolve(fromDecl.dir, spec)
                                    : require.resolve(spec).replace(/\.js$/, "");
  return `${base}.d.ts`;
}

// Unknown fields of `value` against type expression `type` declared in `decl`.
function unknownFields(value, type, decl, at, out) {
  if (value == null) return;
  let m;
  if ((m = /^Array<(.*)>$/.exec(type))) {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, m[1], decl, `${at}/${i}`, out));
    return;
  }
  if ((m = /^Map<(.*)>$/.exec(type))) {
    if (typeof value === "object") {
      for (const [k, v] of Object.entries(value)) unknownFields(v, m[1], decl, `${at}/${k}`, out);
    }
    return;
  }
  const file = /^I\w+$/.test(type) ? resolveImport(decl, type) : null;
  if (file === null) return;  // a primitive, a literal union, or untyped
  walk(value, parseDeclarations(file), at, out);
}

function walk(value, decl, at, out) {
  if (decl.fields === null || typeof value !== "object" || Array.isArray(value)) return;
  for (const [k, v] of Object.entries(value)) {
    if (!decl.fields.has(k)) {
      out.push(`${at}/${k}: no such field`);
      continue;
    }
    unknownFields(v, decl.fields.get(k), decl, `${at}/${k}`, out);
  }
}

// --- the check ---

function check(objects) {
  const problems = [];
  for (const o of objects) {
    const name = `${o.apiVersion} ${ref(o)}`;
    let id;
    try {
      id = require.resolve(modelPath(o.apiVersion, o.kind));
    } catch {
      problems.push(`${name}: no such kind in the Kubernetes API`);
      continue;
    }
    const Model = require(id)[o.kind];
    try {
      new Model(o).validate();
    } catch (e) {
      problems.push(`${name}: ${e.message}`);
    }
    const unknown = [];
    walk(o, parseDeclarations(id.replace(/\.js$/, ".d.ts")), "", unknown);
    for (const u of unknown) problems.push(`${name}: ${u}`);
  }
  return problems;
}

process.exitCode = runWithMutations({
  check,
  renderings: renderingsFrom(flags, loadObjects),
  mutationsFile: flags.mutations?.[0],
});

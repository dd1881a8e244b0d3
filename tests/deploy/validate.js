#!/usr/bin/env node
// Offline validation of PayOnce's deployment files (used by validate_manifests.sh).
//
//   node validate.js compose FILE --env-file ENV   compose file against the Compose
//                                                  Specification JSON schema, after
//                                                  interpolating ${VAR...} from ENV
//   node validate.js k8s FILE...                   every object of multi-document
//                                                  YAML files against the Kubernetes
//                                                  API schemas
//
// Kubernetes objects pass two checks:
//  1. kubernetes-models' validate(): the JSON schemas of the Kubernetes OpenAPI
//     (types, required fields, enums, formats); @kubernetes-models/prometheus-operator
//     for ServiceMonitor and PrometheusRule.
//  2. unknown fields: those schemas allow any extra property, while the API
//     server (strict field validation) and kubectl reject them. Every field of
//     the object must be a property of the model's TypeScript declaration (the
//     same OpenAPI source), walked with the TypeScript compiler's type checker.
// Exit 0 when every file is valid; 1 with one line per problem otherwise.
"use strict";

const fs = require("fs");
const path = require("path");
const YAML = require("yaml");

function readDocs(file) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"), { merge: true });
  const out = [];
  for (const doc of docs) {
    if (doc.errors.length) throw new Error(`${file}: YAML: ${doc.errors[0].message}`);
    const value = doc.toJS({ maxAliasCount: -1 });
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

// ------------------------------------------------------------------ compose
function parseEnvFile(file) {
  const env = {};
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2].replace(/^(["'])(.*)\1$/, "$2");
  }
  return env;
}

// Compose interpolation: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e}, ${VAR:+r}.
function interpolate(value, env, where, problems) {
  if (typeof value === "string") {
    return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
      (all, name, op, arg, bare) => {
        if (all === "$$") return "$";
        const key = name || bare;
        const set = Object.prototype.hasOwnProperty.call(env, key);
        const val = set ? env[key] : undefined;
        const empty = !set || val === "";
        switch (op) {
          case ":-": return empty ? interpolate(arg, env, where, problems) : val;
          case "-": return set ? val : interpolate(arg, env, where, problems);
          case ":?": if (empty) problems.push(`${where}: required variable ${key} is not set (${arg})`); return val || "";
          case "?": if (!set) problems.push(`${where}: required variable ${key} is not set (${arg})`); return val || "";
          case ":+": return empty ? "" : interpolate(arg, env, where, problems);
          case "+": return set ? interpolate(arg, env, where, problems) : "";
          default:
            if (!set) problems.push(`${where}: variable ${key} is not set and has no default`);
            return val || "";
        }
      });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, `${where}/${i}`, problems));
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolate(v, env, `${where}/${k}`, problems);
    return out;
  }
  return value;
}

function validateCompose(file, envFile) {
  const Ajv = require("ajv");
  const addFormats = require("ajv-formats");
  // The Compose Specification's schema, as shipped by the dclint package (its
  // exports do not include the file, hence the path).
  const schemaFile = path.join(__dirname, "node_modules", "dclint", "schemas", "compose.schema.json");
  const schema = JSON.parse(fs.readFileSync(schemaFile, "utf8"));
  // It names draft-07 by its https URI, which Ajv knows as http://...#.
  if (/draft-07/.test(schema.$schema || "")) schema.$schema = "http://json-schema.org/draft-07/schema#";
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  const validate = ajv.compile(schema);

  const docs = readDocs(file);
  if (docs.length !== 1) return [`${file}: expected one YAML document, got ${docs.length}`];
  const problems = [];
  const env = envFile ? parseEnvFile(envFile) : {};
  const data = interpolate(docs[0], env, file, problems);
  if (!validate(data)) {
    for (const e of validate.errors) {
      const extra = e.params && e.params.additionalProperty ? ` (${e.params.additionalProperty})` : "";
      problems.push(`${file}: ${e.instancePath || "/"} ${e.message}${extra}`);
    }
  }
  // Every service's depends_on names a service of the file.
  const services = data.services || {};
  for (const [name, svc] of Object.entries(services)) {
    const deps = Array.isArray(svc.depends_on) ? svc.depends_on : Object.keys(svc.depends_on || {});
    for (const d of deps) {
      if (!services[d]) problems.push(`${file}: /services/${name}/depends_on: unknown service ${d}`);
    }
  }
  return problems;
}

// -------------------------------------------------------------- kubernetes
const MODEL_PACKAGES = [
  { test: (group) => group === "monitoring.coreos.com", pkg: "@kubernetes-models/prometheus-operator" },
  { test: () => true, pkg: "kubernetes-models" },
];

function modelModule(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const { pkg } = MODEL_PACKAGES.find((m) => m.test(group));
  const rel = group ? `${group}/${version}/${kind}` : `${version}/${kind}`;
  return `${pkg}/${rel}`;
}

// The TypeScript declarations of the models, one type alias per module.
class FieldChecker {
  constructor(modules) {
    this.ts = require("typescript");
    const ts = this.ts;
    this.modules = [...new Set(modules)];
    const virtual = path.join(__dirname, "__payonce_models__.ts");
    const text = this.modules
      .map((m, i) => `import type { I${path.basename(m)} as M${i} } from "${m}";\nexport type T${i} = M${i};`)
      .join("\n");
    const options = {
      noEmit: true, skipLibCheck: true, types: [], strict: true,
      moduleResolution: ts.ModuleResolutionKind.Node10, module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2020,
    };
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, lang) =>
      name === virtual ? ts.createSourceFile(name, text, lang) : getSourceFile(name, lang);
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (name) => name === virtual || fileExists(name);
    const program = ts.createProgram([virtual], options, host);
    const diags = ts.getPreEmitDiagnostics(program).filter((d) => d.file && d.file.fileName === virtual);
    if (diags.length) {
      throw new Error("model declarations: " + ts.flattenDiagnosticMessageText(diags[0].messageText, "\n"));
    }
    this.checker = program.getTypeChecker();
    this.source = program.getSourceFile(virtual);
    this.types = new Map();
    for (const stmt of this.source.statements) {
      if (ts.isTypeAliasDeclaration(stmt)) {
        const i = Number(stmt.name.text.slice(1));
        this.types.set(this.modules[i], this.checker.getTypeAtLocation(stmt));
      }
    }
  }

  unknownFields(module, obj) {
    const problems = [];
    this.walk(obj, this.types.get(module), "", problems);
    return problems;
  }

  walk(value, type, where, problems) {
    const ts = this.ts;
    const checker = this.checker;
    if (value === null || value === undefined || !type) return;
    type = checker.getNonNullableType(type);
    if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return;
    if (type.isUnion()) {
      const objectish = type.types.filter((t) => t.flags & ts.TypeFlags.Object);
      if (typeof value !== "object" || objectish.length === 0) return; // scalars: the schema's job
      let best = null;
      for (const member of objectish) {
        const found = [];
        this.walk(value, member, where, found);
        if (found.length === 0) return;
        if (best === null || found.length < best.length) best = found;
      }
      problems.push(...best);
      return;
    }
    if (Array.isArray(value)) {
      const elem = checker.getIndexTypeOfType(type, ts.IndexKind.Number);
      if (elem) value.forEach((v, i) => this.walk(v, elem, `${where}/${i}`, problems));
      return;
    }
    if (typeof value !== "object" || !(type.flags & ts.TypeFlags.Object)) return;
    const index = checker.getIndexTypeOfType(type, ts.IndexKind.String);
    for (const [key, v] of Object.entries(value)) {
      const prop = checker.getPropertyOfType(type, key);
      if (prop) {
        this.walk(v, checker.getTypeOfSymbolAtLocation(prop, this.source), `${where}/${key}`, problems);
      } else if (index) {
        this.walk(v, index, `${where}/${key}`, problems);
      } else {
        problems.push(`${where}/${key}: unknown field`);
      }
    }
  }
}

function validateK8s(files) {
  const problems = [];
  const objects = [];
  for (const file of files) {
    for (const [i, obj] of readDocs(file).entries()) {
      const name = `${file}#${i} ${obj.kind || "?"}/${(obj.metadata && obj.metadata.name) || "?"}`;
      if (!obj.apiVersion || !obj.kind) {
        problems.push(`${name}: apiVersion and kind are required`);
        continue;
      }
      objects.push({ name, obj, module: modelModule(obj.apiVersion, obj.kind) });
    }
  }
  const usable = [];
  for (const o of objects) {
    try {
      require.resolve(o.module);
      usable.push(o);
    } catch {
      problems.push(`${o.name}: no schema for ${o.obj.apiVersion} ${o.obj.kind}`);
    }
  }
  const fields = new FieldChecker(usable.map((o) => o.module));
  for (const o of usable) {
    const mod = require(o.module);
    const Model = mod[o.obj.kind];
    try {
      new Model(o.obj).validate();
    } catch (e) {
      const details = (e.errors || [])
        .map((er) => `${er.instancePath || "/"} ${er.message}${er.params && er.params.allowedValues ? " " + JSON.stringify(er.params.allowedValues) : ""}`);
      problems.push(`${o.name}: schema: ${details.length ? details.join("; ") : e.message}`);
    }
    for (const p of fields.unknownFields(o.module, o.obj)) problems.push(`${o.name}: ${p}`);
  }
  return { problems, count: objects.length };
}

function main(argv) {
  const [mode, ...rest] = argv;
  let problems;
  let summary;
  if (mode === "compose") {
    const i = rest.indexOf("--env-file");
    const envFile = i >= 0 ? rest[i + 1] : null;
    const files = rest.filter((_, j) => i < 0 || (j !== i && j !== i + 1));
    problems = files.flatMap((f) => validateCompose(f, envFile));
    summary = `${files.length} compose file(s) valid against the Compose Specification schema`;
  } else if (mode === "k8s") {
    const r = validateK8s(rest);
    problems = r.problems;
    summary = `${r.count} Kubernetes objects valid (schema and no unknown fields)`;
  } else {
    process.stderr.write("usage: node validate.js compose FILE --env-file ENV | k8s FILE...\n");
    return 2;
  }
  for (const p of problems) console.log(p);
  if (problems.length) return 1;
  console.log(summary);
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  console.log(`validate.js: ${e.message}`);
  process.exitCode = 1;
}

#!/usr/bin/env node
// Bundles the agent and all its production dependencies into ONE ES module that runs on a bare Node.js 24 with no
// node_modules: the file the container image copies (see ../Dockerfile). The entry is build/image-entry.ts, i.e.
// src/cli.ts plus one rule for Kyma's Deployment arguments.
//
//   node build/bundle.mjs [--outfile FILE] [--metafile]      (pnpm --filter @runtime-agent/runtime-agent bundle)
//
// - The workspace packages (@runtime-agent/*) are bundled from their TypeScript sources (the "development" entry
//   of their exports map), so no `tsc` build is needed first. Third-party packages resolve with Node's default
//   conditions, exactly as in production.
// - CommonJS dependencies (prom-client) call `require` for Node built-ins: a
//   createRequire banner gives the ES module a real `require`.
// - `runtime-agent --version` normally reads ../../package.json next to the compiled module, which does not
//   exist in the image: the version is injected at bundle time (see versionPlugin).
// - Fails when the bundle would need anything at run time other than Node built-ins and the optional native
//   add-ons that their users load inside try/catch.
// Prints one line: the output file, its size and the number of input files.
import { readFileSync, writeFileSync } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import { isBuiltin } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import * as esbuild from "esbuild";

const appDir = fileURLToPath(new URL("..", import.meta.url));
export const DEFAULT_OUTFILE = join(appDir, "dist", "bundle", "runtime-agent.mjs");

/** Packages a bundle may leave to run time: optional native add-ons, each required inside try/catch. */
const OPTIONAL_EXTERNALS = new Set(["bufferutil", "utf-8-validate", "supports-color"]);
/**
 * Packages that must never end up in the image: test and demo tools, libraries replaced for memory, and graphql-js / graphql-request (the clients
 * send query text printed at codegen time; see docs/architecture.md, "GraphQL on the wire").
 */
const FORBIDDEN_INPUTS = [
  /packages\/compass-sim\//,
  /packages\/kube-testenv\//,
  /node_modules\/\.pnpm\/vitest@/,
  /node_modules\/\.pnpm\/fast-check@/,
  /node_modules\/\.pnpm\/graphql@/,
  /node_modules\/\.pnpm\/graphql-request@/,
  // Libraries the agent replaced with a few hundred lines of its own, for memory (docs/operations.md, "Memory"):
  // an ASN.1/PKI library (cert-manager writes and reads its DER), a Kubernetes client (k8s-store), an HTTP client
  // (connector-client's transport uses node:http2 and node:https).
  /node_modules\/\.pnpm\/(pkijs|asn1js|@kubernetes\+client-node|undici)@/,
];

/** The global the agent may read its version from (smallest source change; see versionPlugin). */
export const VERSION_GLOBAL = "RUNTIME_AGENT_VERSION";

const BANNER = [
  "// runtime-agent, bundled with esbuild (apps/runtime-agent/build/bundle.mjs); license comments of the bundled packages are at the end.",
  'import { createRequire as __runtimeAgentCreateRequire } from "node:module";',
  "const require = __runtimeAgentCreateRequire(import.meta.url);",
].join("\n");

/**
 * Resolves `@runtime-agent/<name>` to the TypeScript entry of the workspace package (exports["."].development),
 * found through the importer's node_modules symlinks, as pnpm laid them out.
 */
function workspaceSourcePlugin() {
  return {
    name: "workspace-source",
    setup(build) {
      build.onResolve({ filter: /^@runtime-agent\/[^/]+$/ }, (args) => {
        let dir = args.resolveDir;
        for (;;) {
          const manifest = join(dir, "node_modules", args.path, "package.json");
          let pkg;
          try {
            pkg = JSON.parse(readFileSync(manifest, "utf8"));
          } catch {
            const parent = dirname(dir);
            if (parent === dir)
              return {
                errors: [{ text: `cannot find workspace package ${args.path} from ${args.resolveDir}` }],
              };
            dir = parent;
            continue;
          }
          const entry = pkg.exports?.["."]?.development;
          if (typeof entry !== "string")
            return { errors: [{ text: `${manifest}: exports["."].development is missing` }] };
          return { path: resolve(dirname(manifest), entry) };
        }
      });
    },
  };
}

/**
 * `import … from "node:http"` as CommonJS `require("node:http")`. An ES module import of node:http makes Node read
 * every export of the module to build its namespace, and three of them (WebSocket, CloseEvent, MessageEvent) are
 * lazy getters that load Node's built-in undici: about 4 MB of resident memory for classes the agent never uses.
 * esbuild's CommonJS interop forwards each import to the module object on access, so those getters never run.
 */
function nodeHttpAsCommonJsPlugin() {
  return {
    name: "node-http-as-commonjs",
    setup(build) {
      build.onResolve({ filter: /^(node:)?http$/ }, (args) =>
        // The shim's own require is the real module.
        args.namespace === "node-http-commonjs" ? { path: "node:http", external: true } : { path: "node:http", namespace: "node-http-commonjs" },
      );
      build.onLoad({ filter: /.*/, namespace: "node-http-commonjs" }, () => ({ contents: 'module.exports = require("node:http");', loader: "js" }));
    },
  };
}

/**
 * Makes `version()` of src/cli/main.ts work in the bundle. Two ways, whichever the source uses:
 * - the global RUNTIME_AGENT_VERSION, replaced by esbuild `define` (the proposed source change:
 *   `if (typeof RUNTIME_AGENT_VERSION === "string") return RUNTIME_AGENT_VERSION;` before the require);
 * - otherwise the `require("../../package.json")` expression is replaced by the manifest's version at load time.
 * Fails the bundle when neither is found, so a refactoring cannot silently break `--version` in the image.
 */
function versionPlugin(version) {
  return {
    name: "runtime-agent-version",
    setup(build) {
      build.onLoad({ filter: /[\\/]src[\\/]cli[\\/]main\.ts$/ }, (args) => {
        const source = readFileSync(args.path, "utf8");
        const pattern = /require\((["'])\.\.\/\.\.\/package\.json\1\)/g;
        if (source.includes(VERSION_GLOBAL)) return { contents: source, loader: "ts" };
        if (!pattern.test(source)) {
          return {
            errors: [
              {
                text: `${args.path}: found neither ${VERSION_GLOBAL} nor require("../../package.json"); cannot inject the version`,
              },
            ],
          };
        }
        return {
          contents: source.replace(pattern, `({ version: ${JSON.stringify(version)} })`),
          loader: "ts",
        };
      });
    },
  };
}

/**
 * Builds the bundle. Returns where it is, its size, the version injected, the number of inputs and the
 * packages left to run time (built-ins excluded).
 */
export async function bundle(options = {}) {
  const outfile = resolve(options.outfile ?? DEFAULT_OUTFILE);
  const { version } = JSON.parse(readFileSync(join(appDir, "package.json"), "utf8"));
  await mkdir(dirname(outfile), { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: appDir,
    entryPoints: [join(appDir, "build", "image-entry.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    // Identifiers are kept: readable stack traces and short error lines in the logs matter more than a few MB in
    // the image. Whitespace and comments go: Node keeps an ES module's whole source text in memory for the life of
    // the process (twice its size when one comment has a non-ASCII character), so they cost resident memory.
    minifySyntax: true,
    minifyWhitespace: true,
    charset: "ascii",
    legalComments: "eof",
    banner: { js: BANNER },
    define: { [VERSION_GLOBAL]: JSON.stringify(version) },
    plugins: [workspaceSourcePlugin(), nodeHttpAsCommonJsPlugin(), versionPlugin(version)],
    metafile: true,
    logLevel: "silent",
  });
  // Any warning fails the bundle (e.g. a missing tsconfig would silently change class-field semantics), except
  // esbuild's notes about `require()` of the optional add-ons inside try/catch, which are checked below.
  const warnings = result.warnings
    .map((w) => w.text + (w.location ? ` (${w.location.file}:${w.location.line})` : ""))
    .filter((text) => !/bufferutil|utf-8-validate|supports-color/.test(text));
  if (warnings.length > 0) throw new Error(`esbuild warnings:\n  ${warnings.join("\n  ")}`);
  const output =
    result.metafile.outputs[relative(appDir, outfile)] ?? Object.values(result.metafile.outputs)[0];
  const inputs = Object.keys(output.inputs);
  const forbidden = inputs.filter((input) => FORBIDDEN_INPUTS.some((re) => re.test(input)));
  if (forbidden.length > 0)
    throw new Error(`the bundle contains code that must not ship: ${forbidden.slice(0, 5).join(", ")}`);
  const externals = [
    ...new Set(output.imports.filter((i) => i.external && !isBuiltin(i.path)).map((i) => i.path)),
  ].sort();
  const unexpected = externals.filter((e) => !OPTIONAL_EXTERNALS.has(e));
  if (unexpected.length > 0)
    throw new Error(`the bundle would need these packages at run time: ${unexpected.join(", ")}`);
  // esbuild leaves non-ASCII characters in regular expressions and license comments; escaped, the source stays
  // one byte per character in memory. (Code units one by one: in strings, regular expressions and comments alike.)
  const text = readFileSync(outfile, "utf8");
  if (/[^\x00-\x7f]/.test(text))
    writeFileSync(outfile, text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
  if (options.metafile)
    writeFileSync(outfile.replace(/\.mjs$/, ".meta.json"), JSON.stringify(result.metafile));
  const { size } = await stat(outfile);
  return { outfile, bytes: size, version, inputs: inputs.length, externals };
}

function formatSize(bytes) {
  return bytes >= 1024 * 1024
    ? `${(bytes / 1024 / 1024).toFixed(2)} MiB`
    : `${(bytes / 1024).toFixed(1)} KiB`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { outfile: { type: "string" }, metafile: { type: "boolean" } } });
  try {
    const r = await bundle(values);
    const shown = relative(process.cwd(), r.outfile);
    process.stdout.write(
      `bundle: ${shown.startsWith("..") ? r.outfile : shown} ${formatSize(r.bytes)} (${r.bytes} bytes, version ${r.version}, ${r.inputs} inputs)\n`,
    );
  } catch (error) {
    process.stderr.write(`bundle: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}

// The documentation cites tests, files, error codes, metrics, settings and CLI flags by name. This test fails when a
// cited thing does not exist, so the docs cannot keep pointing at what was renamed or removed.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { SETTINGS } from "../src/config/schema.js";
import { main as runCli } from "../src/cli/main.js";
import { AgentMetrics } from "../src/observability/metrics.js";
import {
  ANY,
  cells,
  isCitedPrefixOf,
  linkProblem,
  markdownFiles,
  read,
  relativeLinks,
  ROOT,
  sourceWithImports,
  testNames,
  withoutCodeBlocks,
} from "./support/docs.js";

const RELIABILITY = "docs/reliability.md";

// ---- reliability.md: every cited test exists -------------------------------------------------------------------

interface Legend {
  /** `rel/compass-faults`, `pair-cli`: the short name as written → file templates (`<name>` = the short name). */
  exact: Map<string, string[]>;
  /** `e2e/…`, `cert-manager/…`: the prefix → file templates (`<package>` = the prefix, `<name>` = what follows). */
  prefixed: Map<string, string[]>;
  /** Lines of the legend table (not searched for citations). */
  lines: Set<number>;
}

/** The doc's own table of short names ("Short name | File"). */
function parseLegend(doc: string): Legend {
  const legend: Legend = { exact: new Map(), prefixed: new Map(), lines: new Set() };
  const lines = doc.split("\n");
  const header = lines.findIndex((l) => /^\|\s*Short name\s*\|\s*File\s*\|/.test(l));
  for (let i = header + 2; header >= 0 && i < lines.length && lines[i]?.startsWith("|"); i++) {
    legend.lines.add(i);
    const [names = "", files = ""] = cells(lines[i] as string);
    const templates = [
      ...[...files.matchAll(/\]\(([^)]+\.test\.ts)\)/g)].map((m) =>
        join("docs", m[1] ?? "").replace(/\\/g, "/"),
      ),
      ...[...files.replace(/\[[^\]]*\]\([^)]*\)/g, "").matchAll(/`([^`]+\.test\.ts)`/g)].map(
        (m) => m[1] ?? "",
      ),
    ];
    for (const name of names.split(/,\s*/)) {
      const prefix = /^([\w-]+)\/…$/.exec(name.trim());
      if (prefix) legend.prefixed.set(prefix[1] as string, templates);
      else legend.exact.set(name.trim(), templates);
    }
  }
  return legend;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The files a cited short name stands for (those that exist), or a problem. */
function resolveRef(legend: Legend, ref: string, unit: boolean): { files: string[] } | { problem: string } {
  let candidates: string[];
  const exact = legend.exact.get(ref);
  if (exact) candidates = exact.map((t) => t.replace("<name>", ref));
  else {
    const [prefix = "", name = ""] = ref.split("/");
    const templates = legend.prefixed.get(prefix) ?? [];
    candidates = templates.map((t) => t.replace("<package>", prefix).replace("<name>", name));
  }
  if (unit) candidates = candidates.filter((c) => /\/src\//.test(c));
  const files = candidates.filter((c) => existsSync(join(ROOT, c)));
  if (files.length === 0)
    return {
      problem: `${ref}${unit ? " (unit)" : ""}: no such test file (${candidates.join(" or ") || "not in the legend"})`,
    };
  return { files };
}

/** Problems with one cell (or prose line): file references, then after `›` the quoted test names in them. */
function citationProblems(legend: Legend, text: string, stats = { refs: 0, names: 0 }): string[] {
  const shortNames = [...legend.exact.keys()].sort((a, b) => b.length - a.length).map(escapeRe);
  const prefixes = [...legend.prefixed.keys()].map(escapeRe);
  const token = new RegExp(
    [
      /\[[^\]]*\]\((?<link>[^)]+\.test\.ts)\)/.source,
      /(?<explicit>[\w-]+(?:\/[\w-]+)?) \(`(?<explicitPath>[^`]+\.test\.ts)`\)/.source,
      `(?<![\\w/.-])(?<short>${[...shortNames, `(?:${prefixes.join("|")})/[a-z0-9-]+`].join("|")})(?![\\w-])(?:\\s*\\((?<unit>unit)\\))?`,
      /(?<arrow>›)/.source,
      // A name with a placeholder (test.each's %s, a template literal's ${...}) may be followed by its cases: "%s …" (a, b)
      /"(?<quoted>[^"]*)"(?: \((?<cases>[^()]*)\))?/.source,
    ].join("|"),
    "g",
  );
  const problems: string[] = [];
  let group: { ref: string; files: string[] }[] = [];
  let arrow = false;
  let lastWasRef = false;
  let end = 0;
  for (const m of text.matchAll(token)) {
    const between = text.slice(end, m.index);
    end = (m.index ?? 0) + m[0].length;
    const g = m.groups ?? {};
    let ref: { ref: string; files: string[] } | undefined;
    if (g["link"] !== undefined || g["explicitPath"] !== undefined) {
      const file =
        g["link"] !== undefined ? join("docs", g["link"]).replace(/\\/g, "/") : (g["explicitPath"] as string);
      if (!existsSync(join(ROOT, file))) problems.push(`${file}: no such test file`);
      ref = { ref: g["explicit"] ?? file, files: existsSync(join(ROOT, file)) ? [file] : [] };
    } else if (g["short"] !== undefined) {
      const resolved = resolveRef(legend, g["short"], g["unit"] !== undefined);
      if ("problem" in resolved) problems.push(resolved.problem);
      ref = { ref: g["short"], files: "files" in resolved ? resolved.files : [] };
    }
    if (ref) {
      stats.refs++;
      // "a, b and c › names": the names are in each of a, b and c.
      group = lastWasRef && /^\s*(?:,|and|, and)\s*$/.test(between) ? [...group, ref] : [ref];
      arrow = false;
      lastWasRef = true;
      continue;
    }
    lastWasRef = false;
    if (g["arrow"] !== undefined) arrow = group.length > 0;
    else if (g["quoted"] !== undefined && arrow) {
      const cited = (g["quoted"] as string).replace(/…/g, ANY).trim();
      stats.names++;
      for (const { ref: name, files } of group) {
        if (files.length === 0) continue; // reported above
        if (!files.some((f) => testNames(read(f)).some((n) => isCitedPrefixOf(cited, n)))) {
          problems.push(`${name} › "${g["quoted"]}": no test or describe in ${files.join(" or ")} begins so`);
        }
        // The cases of a parameterized test are values of its table: each must be in the file or what it imports.
        if (g["cases"] !== undefined && /%\w|\$\{/.test(cited)) {
          for (const c of g["cases"].split(", ").filter((c) => c !== "…")) {
            if (!files.some((f) => sourceWithImports(f).includes(c)))
              problems.push(`${name} › "${g["quoted"]}" (${c}): no such case in ${files.join(" or ")}`);
          }
        }
      }
    }
  }
  return problems;
}

describe("docs/reliability.md", () => {
  const doc = read(RELIABILITY);
  const legend = parseLegend(doc);

  test("its legend of short names is there and names files that exist", () => {
    expect(legend.exact.size + legend.prefixed.size).toBeGreaterThan(10);
    const problems: string[] = [];
    for (const [name, templates] of legend.exact) {
      for (const t of templates)
        if (!t.includes("<") && !existsSync(join(ROOT, t))) problems.push(`${name}: ${t} does not exist`);
    }
    for (const [prefix, templates] of legend.prefixed) {
      // At least one file of each prefix exists (e.g. packages/app-sync/src/*.test.ts).
      const dirs = templates.map((t) => t.replace("<package>", prefix).replace(/\/[^/]*$/, ""));
      if (
        !dirs.some(
          (d) => existsSync(join(ROOT, d)) && readdirSync(join(ROOT, d)).some((f) => f.endsWith(".test.ts")),
        )
      ) {
        problems.push(`${prefix}/…: no test file in ${dirs.join(" or ")}`);
      }
    }
    expect(problems).toEqual([]);
  });

  test("every cited test file exists and every quoted test name begins a test or describe in it", () => {
    const problems: string[] = [];
    const stats = { refs: 0, names: 0 };
    const lines = withoutCodeBlocks(doc).split("\n");
    lines.forEach((line, i) => {
      if (legend.lines.has(i)) return;
      const parts = line.trim().startsWith("|") ? cells(line) : [line];
      const where = line.trim().startsWith("|") ? (parts[0] ?? "") : `line ${i + 1}`;
      for (const part of parts)
        for (const p of citationProblems(legend, part, stats)) problems.push(`${where}: ${p}`);
    });
    // (The matrix cites about 200 tests in about 190 places: the parsing must not lose them.)
    expect(stats.refs).toBeGreaterThan(150);
    expect(stats.names).toBeGreaterThan(180);
    expect(problems).toEqual([]);
  });

  test("the check itself catches a wrong name, a wrong file and a wrong short name", () => {
    const row = (tests: string) => citationProblems(legend, tests);
    expect(row('rel/compass-faults › "Connector 503, reset and 200 {} on the connection check"')).toEqual([]);
    expect(row('rel/compass-faults › "Connector 503, reset and 200 {} on the connection chek"')).toHaveLength(
      1,
    );
    expect(row('rel/compass-faults › "Connector 503, … connection check"')).toEqual([]);
    expect(row('e2e/no-such-file › "x"')).toHaveLength(1);
    expect(row('k8s-store/secrets (unit) › "no such test"')).toHaveLength(1);
    // A name built by test.each is cited as written ("%s: …"), not by a value of its table: a reader searching the
    // file for the cited text must find it.
    expect(row('rel/hostile-connector › "%s: ConnectionFailed with %s" (malformed-base64, not-pem)')).toEqual(
      [],
    );
    expect(row('rel/hostile-connector › "malformed-base64"')).toHaveLength(1);
    expect(
      row('rel/hostile-connector › "%s: ConnectionFailed with %s" (malformed-base64, no-such-variant)'),
    ).toHaveLength(1);
  });
});

// ---- links ---------------------------------------------------------------------------------------------------

test("every relative link in README.md, docs/*.md and packages/*/README.md resolves (file, and heading when given)", () => {
  const problems: string[] = [];
  for (const file of markdownFiles()) {
    for (const { target, line } of relativeLinks(read(file))) {
      const problem = linkProblem(file, target);
      if (problem) problems.push(`${file}:${line}: ${problem}`);
    }
  }
  expect(problems).toEqual([]);
});

test("every repository path quoted as code in the docs exists", () => {
  const problems: string[] = [];
  for (const file of markdownFiles()) {
    const base = file.startsWith("packages/") ? file.replace(/README\.md$/, "") : "";
    withoutCodeBlocks(read(file))
      .split("\n")
      .forEach((text, i) => {
        for (const m of text.matchAll(
          /`((?:apps|packages|schemas|docs|scripts|src|test|examples|bench)\/[\w./-]*[\w/])`/g,
        )) {
          const path = m[1] as string;
          const rooted = /^(apps|packages|schemas|docs|scripts)\//.test(path);
          // Build output is not in the repository; `src/...` in a repository-wide doc means each package's.
          if (/(^|\/)dist\//.test(path) || (!rooted && base === "")) continue;
          if (!existsSync(join(ROOT, rooted ? "" : base, path)))
            problems.push(`${file}:${i + 1}: ${path} does not exist`);
        }
      });
  }
  expect(problems).toEqual([]);
});

// ---- error codes, metrics, settings, flags -----------------------------------------------------------------------

/** Every code of the packages' error classes (`CONNECTOR_*`, `DIRECTOR_*`, `CERT_*`, `K8S_*`). */
function errorCodes(): Set<string> {
  const codes = new Set<string>();
  for (const pkg of ["connector-client", "director-client", "cert-manager", "k8s-store"]) {
    for (const m of read(`packages/${pkg}/src/errors.ts`).matchAll(
      /"((?:CONNECTOR|DIRECTOR|CERT|K8S)_[A-Z0-9_]+)"/g,
    ))
      codes.add(m[1] as string);
  }
  return codes;
}

/** Every name a package's src/index.ts exports. */
function packageExports(): string[] {
  return readdirSync(join(ROOT, "packages"))
    .filter((p) => existsSync(join(ROOT, "packages", p, "src/index.ts")))
    .flatMap((p) => exportedNames(read(`packages/${p}/src/index.ts`)));
}

/** `X_*`, `X_…` and `DIRECTOR_*_NOT_FOUND` stand for every matching name. */
const wildcard = (cited: string) =>
  new RegExp(`^${cited.split(/\*|…/).map(escapeRe).join("[A-Za-z0-9_]+")}$`);

test("every error code the docs cite is a code of a package's error class", () => {
  const codes = errorCodes();
  expect(codes.size).toBeGreaterThan(40);
  // Not error codes, but named like them: the configuration Secret's key (k8s-store reads it), and constants the
  // packages export (K8S_VERBS, CONNECTOR_MESSAGES, ...).
  const configKeys = new Set(["CONNECTOR_URL", ...packageExports()]);
  expect(read("packages/k8s-store/src/secrets.ts")).toContain('"CONNECTOR_URL"');
  const problems: string[] = [];
  for (const file of markdownFiles()) {
    for (const m of withoutCodeBlocks(read(file)).matchAll(
      /(?<![\w-])(?:CONNECTOR|DIRECTOR|CERT|K8S)_[A-Z0-9_]*(?:[*…][A-Z0-9_]*)?/g,
    )) {
      const cited = m[0].replace(/_$/, "");
      if (codes.has(cited) || configKeys.has(cited)) continue;
      if (/[*…]/.test(cited) && [...codes].some((c) => wildcard(cited).test(c))) continue;
      problems.push(`${file}: ${cited}`);
    }
  }
  expect([...new Set(problems)]).toEqual([]);
});

test("every metric the docs cite is in the agent's registry", async () => {
  const metrics = new AgentMetrics();
  const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
  expect(names).toContain("cra_reconcile_total");
  const known = new Set(names.flatMap((n) => [n, `${n}_bucket`, `${n}_sum`, `${n}_count`]));
  const problems: string[] = [];
  for (const file of markdownFiles()) {
    for (const m of read(file).matchAll(/(?<![\w-])cra_[a-z0-9_]*\*?/g)) {
      const cited = m[0];
      if (
        cited.endsWith("*")
          ? names.some((n) => n.startsWith(cited.slice(0, -1)) && n.length >= cited.length)
          : known.has(cited)
      )
        continue;
      problems.push(`${file}: ${cited}`);
    }
  }
  expect([...new Set(problems)]).toEqual([]);
});

/** Set by Kyma's manifest, not settings of this agent: ignored like any unknown variable (the docs say so). */
const IGNORED_KYMA_VARIABLES = ["APP_UPLOAD_SERVICE_URL"];

test("every APP_* variable README.md and docs/*.md cite is a setting of the configuration loader", () => {
  const envs = Object.values(SETTINGS).map((s) => s.env);
  for (const v of IGNORED_KYMA_VARIABLES) {
    expect(envs).not.toContain(v);
    expect(read("apps/runtime-agent/deploy/overlays/kyma/kustomization.yaml")).toContain(v);
  }
  const problems: string[] = [];
  for (const file of ["README.md", ...markdownFiles().filter((f) => f.startsWith("docs/"))]) {
    for (const m of read(file).matchAll(/(?<![\w-])APP_[A-Z0-9_*]*[A-Z0-9*]/g)) {
      const cited = m[0];
      if (envs.includes(cited) || IGNORED_KYMA_VARIABLES.includes(cited)) continue;
      if (cited.includes("*") && envs.some((e) => wildcard(cited).test(e))) continue;
      problems.push(`${file}: ${cited}`);
    }
  }
  expect([...new Set(problems)]).toEqual([]);
});

// The CLI's commands and their flags, read from its sources (src/cli).
const CLI = "apps/runtime-agent/src/cli";

/** Each command of the CLI: the flags it parses, and whether it takes the settings' flags (configFromArgs). */
function cliCommands(): Map<string, Set<string>> {
  return new Map(
    [...cliCommandDetails()].map(([c, d]) => [
      c,
      new Set([...d.own, ...(d.settings ? Object.values(SETTINGS).map((s) => s.flag) : [])]),
    ]),
  );
}

function cliCommandDetails(): Map<string, { own: Set<string>; settings: boolean }> {
  const main = read(`${CLI}/main.ts`);
  const commandsBlock = /const COMMANDS[^=]*=\s*\{([\s\S]*?)\n\};/.exec(main)?.[1] ?? "";
  const tlsFlags = [
    ...(
      /export const TLS_FLAGS = \{([\s\S]*?)\}\s*as const/.exec(read(`${CLI}/args.ts`))?.[1] ?? ""
    ).matchAll(/"?([\w-]+)"?:\s*\{\s*type:/g),
  ].map((m) => m[1] as string);
  const commands = new Map<string, { own: Set<string>; settings: boolean }>();
  for (const m of commandsBlock.matchAll(/^\s*(\w+): \{ run: (\w+),/gm)) {
    const [, command = "", fn = ""] = m;
    const file = readdirSync(join(ROOT, CLI)).find(
      (f) =>
        f.endsWith(".ts") &&
        !f.endsWith(".test.ts") &&
        read(`${CLI}/${f}`).includes(`export async function ${fn}(`),
    );
    const src = read(`${CLI}/${file}`);
    const body = src.slice(src.indexOf(`export async function ${fn}(`)).split(/\nexport /)[0] ?? "";
    const options = /(?:parseFlags|configFromArgs)\(argv, \{([\s\S]*?)\}\);/.exec(body)?.[1] ?? "";
    const flags = new Set([...options.matchAll(/"?([\w-]+)"?:\s*\{\s*type:/g)].map((f) => f[1] as string));
    if (options.includes("...TLS_FLAGS")) for (const f of tlsFlags) flags.add(f);
    commands.set(command, { own: flags, settings: body.includes("configFromArgs(") });
  }
  return commands;
}

/** Flags of our own scripts the docs show (`pnpm test:faults`, `pnpm test:soak`, `pnpm demo`), found in their sources. */
const SCRIPTS = [
  "apps/runtime-agent/test/faults/sweep.ts",
  "apps/runtime-agent/test/soak/soak.ts",
  "apps/runtime-agent/demo/demo.ts",
  "apps/runtime-agent/bench/agent-sync.bench.ts",
  "apps/runtime-agent/bench/agent-scale.bench.ts",
];
/** Other tools' flags in the docs' command lines. */
const OTHER_TOOLS: Record<string, string[]> = {
  kubectl: ["from-literal", "type", "field-selector", "dry-run"],
  pnpm: ["filter", "frozen-lockfile"],
  docker: ["rm", "user"],
  node: ["max-semi-space-size", "initial-old-space-size", "heap-growing-percent", "max-old-space-size", "no-opt", "no-maglev", "expose-gc"],
};

test("every flag in README.md and docs/*.md is one the CLI parses (or a flag of the tool its line runs)", () => {
  const commands = cliCommands();
  expect([...commands.keys()].sort()).toEqual(["pair", "renew", "revoke", "run", "status", "sync"]);
  const agentFlags = new Set(["help", "version", ...[...commands.values()].flatMap((f) => [...f])]);
  const scripts = SCRIPTS.map(read).join("\n");
  const other = new Set(Object.values(OTHER_TOOLS).flat());
  const problems: string[] = [];
  for (const file of ["README.md", ...markdownFiles().filter((f) => f.startsWith("docs/"))]) {
    for (const m of read(file).matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)) {
      const flag = m[1] as string;
      if (agentFlags.has(flag) || other.has(flag)) continue;
      if (
        scripts.includes(`--${flag}`) ||
        new RegExp(`["\\s]${escapeRe(flag)}"?:\\s*\\{\\s*type:`).test(scripts)
      )
        continue;
      problems.push(`${file}: --${flag}`);
    }
  }
  expect([...new Set(problems)]).toEqual([]);
});

// ---- README.md -------------------------------------------------------------------------------------------------

describe("README.md", () => {
  const readme = read("README.md");

  test("its CLI block has a line per command of the CLI, each with exactly the flags that command parses", () => {
    const block = /## CLI\n[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
    const lines = new Map(
      block
        .split("\n")
        .filter((l) => l.startsWith("runtime-agent "))
        .map((l) => [l.split(/\s+/)[1] ?? "", l] as const),
    );
    const settingFlags = new Set(Object.values(SETTINGS).map((s) => s.flag));
    const problems: string[] = [];
    for (const [command, { own, settings }] of cliCommandDetails()) {
      const line = lines.get(command);
      if (line === undefined) {
        problems.push(`${command}: no line`);
        continue;
      }
      const shown = new Set([...line.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1] as string));
      for (const f of shown)
        if (!own.has(f) && !(settings && settingFlags.has(f)))
          problems.push(`${command}: --${f} is not a flag of ${command}`);
      // The settings' flags (run, status) are in the configuration table: "[settings...]".
      for (const f of own) if (!shown.has(f)) problems.push(`${command}: --${f} missing`);
      if (settings !== line.includes("[settings...]"))
        problems.push(`${command}: [settings...] ${settings ? "missing" : "but it takes no settings"}`);
    }
    for (const command of lines.keys())
      if (!cliCommands().has(command)) problems.push(`${command}: not a command of the CLI`);
    expect(problems).toEqual([]);
  });

  test("the CLI's own usage (`COMMAND --help`) names every flag of the command", async () => {
    const settingFlags = new Set(Object.values(SETTINGS).map((s) => s.flag));
    const problems: string[] = [];
    for (const [command, { own, settings }] of cliCommandDetails()) {
      let out = "";
      const code = await runCli([command, "--help"], {
        out: (text: string) => void (out += text),
        err: () => undefined,
      });
      expect(code).toBe(0);
      for (const f of own) if (!out.includes(`--${f}`)) problems.push(`${command} --help: --${f} missing`);
      // run lists the settings' flags; another command that takes them says [settings...].
      if (settings && command === "run")
        for (const f of settingFlags)
          if (!out.includes(`--${f}`)) problems.push(`run --help: --${f} missing`);
      if (settings && command !== "run" && !out.includes("[settings...]"))
        problems.push(`${command} --help: [settings...] missing`);
    }
    expect(problems).toEqual([]);
  });

  test("links every package and the agent", () => {
    const dirs = [...readdirSync(join(ROOT, "packages")).map((p) => `packages/${p}`), "apps/runtime-agent"];
    expect(dirs.filter((d) => !readme.includes(`](${d})`))).toEqual([]);
  });

  test("says nothing is in progress or still to come", () => {
    const stale =
      /\b(in progress|upcoming|coming soon|not yet (?:implemented|supported)|work in progress|WIP|TODO|TBD|next step|Director next)\b/i;
    const problems = markdownFiles().flatMap((file) =>
      read(file)
        .split("\n")
        .flatMap((line, i) => (stale.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(problems).toEqual([]);
  });
});

// ---- package READMEs list the public API ---------------------------------------------------------------------

/** The names `src/index.ts` exports (values and types). */
function exportedNames(indexTs: string): string[] {
  const names: string[] = [];
  const src = indexTs.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
  for (const m of src.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const part of (m[1] ?? "").split(",")) {
      const name = part
        .trim()
        .replace(/^type\s+/, "")
        .split(/\s+as\s+/)
        .pop()
        ?.trim();
      if (name) names.push(name);
    }
  }
  for (const m of src.matchAll(/export\s+\*\s+as\s+(\w+)/g)) names.push(m[1] as string);
  for (const m of src.matchAll(
    /export\s+(?:declare\s+)?(?:async\s+)?(?:const|let|function|class|interface|type|enum)\s+(\w+)/g,
  ))
    names.push(m[1] as string);
  if (/export\s+\*\s+from/.test(src))
    throw new Error("export * from ...: list the names instead, so the README check sees them");
  return [...new Set(names)];
}

test.each(
  readdirSync(join(ROOT, "packages")).filter((p) => existsSync(join(ROOT, "packages", p, "src/index.ts"))),
)("packages/%s/README.md names every export of src/index.ts (as code)", (pkg) => {
  const names = exportedNames(read(`packages/${pkg}/src/index.ts`));
  expect(names.length).toBeGreaterThan(3);
  const readme = read(`packages/${pkg}/README.md`);
  // Inline code and code blocks: a name in prose ("Application") does not count.
  const code = [...readme.matchAll(/```[\s\S]*?```|`(?:[^`\n]|\n(?!\n))+`/g)].map((m) => m[0]).join("\n");
  expect(names.filter((n) => !new RegExp(`(?<![\\w$])${escapeRe(n)}(?![\\w$])`).test(code))).toEqual([]);
});

// codegen:refresh against altered SDL files: which changes break the agent's operations, which are only reported,
// which are ignored; exit codes; nothing written when an operation no longer validates.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildSchema, introspectionFromSchema } from "graphql";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { alter, fixture, makeTempRoot, run } from "./support.js";
import type { TempRoot } from "./support.js";

let root: TempRoot;
let connector: string;
let director: string;

beforeEach(() => {
  root = makeTempRoot();
  connector = join(root.dir, "schemas/compass/connector.graphql");
  director = join(root.dir, "schemas/compass/director.graphql");
});
afterEach(() => root.remove());

/** Writes the temp copy's Director schema with one alteration to a file outside schemas/ and returns its path. */
function alteredDirector(from: string | RegExp, to: string, name = "director-altered.graphql"): string {
  return root.write(name, alter(root.read("schemas/compass/director.graphql"), from, to));
}

const relevant = (r: Awaited<ReturnType<typeof run>>, target: string) =>
  r.result.targets.find((t) => t.target === target)?.changes?.filter((c) => c.relevant) ?? [];
const ignored = (r: Awaited<ReturnType<typeof run>>, target: string) =>
  r.result.targets.find((t) => t.target === target)?.changes?.filter((c) => !c.relevant) ?? [];

describe("an operation no longer validates: exit 2, nothing written", () => {
  test("CertificationResult.caCertificate removed (SignCertificateSigningRequest selects it)", async () => {
    const before = root.snapshot();
    const r = await run(["--root", root.dir, "--connector", fixture("connector-without-ca-certificate.graphql"), "--director", director]);
    expect(r.exitCode).toBe(2);
    expect(r.out).toMatch(/✗ operation SignCertificateSigningRequest \(mutation, packages\/connector-client\/src\/operations\/connector\.graphql\) no longer validates/);
    expect(r.out).toContain('Cannot query field "caCertificate" on type "CertificationResult".');
    expect(r.out).toMatch(/✗ CertificationResult\.caCertificate was removed\. \[FIELD_REMOVED\] used by SignCertificateSigningRequest/);
    expect(r.err).toContain("1 operation no longer validates against the new schema: nothing written");
    expect(root.snapshot()).toEqual(before);
    expect(r.codegenCalls).toEqual([]);
  });

  test("Application.providerName removed (ApplicationsForRuntime selects it)", async () => {
    const before = root.snapshot();
    const source = alteredDirector("  providerName: String\n", "");
    const r = await run(["--root", root.dir, "--connector", connector, "--director", source, "--prune"]);
    expect(r.exitCode).toBe(2);
    expect(r.out).toMatch(/✗ operation ApplicationsForRuntime \(query, packages\/director-client\/src\/operations\/director\.graphql\) no longer validates:/);
    expect(r.out).toMatch(/Cannot query field "providerName" on type "Application"\. \(packages\/director-client\/src\/operations\/director\.graphql:\d+:\d+\)/);
    expect(relevant(r, "director").map((c) => [c.type, c.coordinate, c.operations])).toEqual([
      ["FIELD_REMOVED", "Application.providerName", ["ApplicationsForRuntime"]],
    ]);
    // The connector is fine, but nothing is written for it either.
    expect(root.snapshot()).toEqual(before);
    expect(r.codegenCalls).toEqual([]);
  });

  test("a field removed inside a shared fragment names every operation that spreads it, and the fragment", async () => {
    const source = alteredDirector('\n  """\n  if true, will be removed in the next version\n  """\n  forRemoval: Boolean\n', "\n");
    const r = await run(["--root", root.dir, "--director", source, "--dry-run"]);
    expect(r.exitCode).toBe(2);
    for (const operation of ["ApplicationsForRuntime", "ApplicationBundlesPage", "BundleApiDefinitionsPage", "BundleEventDefinitionsPage"]) {
      expect(r.out).toContain(`✗ operation ${operation} (query`);
    }
    expect(r.out).toMatch(/Cannot query field "forRemoval" on type "Version"\. \(in fragment VersionFields, packages\/director-client\/src\/operations\/director\.graphql:\d+:\d+\)/);
    expect(r.err).toContain("4 operations no longer validate");
  });

  test("an argument's type changed under a variable (csr: String! → Int!)", async () => {
    const r = await run(["--root", root.dir, "--connector", fixture("connector-csr-int.graphql"), "--dry-run"]);
    expect(r.exitCode).toBe(2);
    expect(r.out).toContain('Variable "$csr" of type "String!" used in position expecting type "Int!".');
    expect(relevant(r, "connector").map((c) => c.coordinate)).toEqual(["Mutation.signCertificateSigningRequest(csr:)"]);
  });
});

describe("operations still validate: exit 0", () => {
  test("String! → Int on a field the agent selects is reported as breaking, with the operation", async () => {
    const r = await run(["--root", root.dir, "--connector", fixture("connector-ca-certificate-int.graphql"), "--dry-run"]);
    expect(r.exitCode).toBe(0);
    expect(relevant(r, "connector").map((c) => [c.severity, c.type, c.coordinate, c.operations])).toEqual([
      ["breaking", "FIELD_CHANGED_KIND", "CertificationResult.caCertificate", ["SignCertificateSigningRequest"]],
    ]);
    expect(r.out).toContain("BREAKING changes for the agent (1):");
    expect(r.out).toContain(
      "✗ CertificationResult.caCertificate changed type from String! to Int. [FIELD_CHANGED_KIND] used by SignCertificateSigningRequest",
    );
  });

  test("an added optional field, a new type, a new root field and mutation: no breaking change", async () => {
    const r = await run(["--root", root.dir, "--connector", fixture("connector-additions.graphql"), "--dry-run"]);
    expect(r.exitCode).toBe(0);
    expect(r.result.targets[0]!.changes).toEqual([]);
    expect(r.out).toContain("breaking changes for the agent: none");
    expect(r.out).toContain("dangerous changes for the agent: none");
    expect(r.out).toContain("schemas/compass/connector.graphql: would write the full schema (8 types");
    expect(r.out).toContain("dry run: nothing written, no codegen");
  });

  test("a removed field the agent does not use is ignored", async () => {
    const text = alter(root.read("schemas/compass/director.graphql"), "  metadata: RuntimeMetadata!\n", "");
    const source = root.write("d.graphql", alter(text, /type RuntimeMetadata \{[^}]*\}\n/, ""));
    const r = await run(["--root", root.dir, "--director", source, "--dry-run"]);
    expect(r.exitCode).toBe(0);
    expect(relevant(r, "director")).toEqual([]);
    expect(ignored(r, "director").map((c) => [c.type, c.coordinate])).toEqual([
      ["TYPE_REMOVED", "RuntimeMetadata"],
      ["FIELD_REMOVED", "Runtime.metadata"],
    ]);
    expect(r.out).toContain("breaking changes for the agent: none");
    expect(r.out).toContain("ignored: not used by the agent (2):");
    expect(r.out).toContain("- breaking Runtime.metadata was removed. [FIELD_REMOVED]");
  });

  test("a removed argument the operations never pass is ignored; a changed default of one they always pass too", async () => {
    let text = alter(root.read("schemas/compass/director.graphql"), "apiDefinitions(group: String, first: Int = 200, after: PageCursor)", "apiDefinitions(first: Int = 200, after: PageCursor)");
    text = alter(text, "applicationsForRuntime(runtimeID: ID!, first: Int = 200, after: PageCursor)", "applicationsForRuntime(runtimeID: ID!, first: Int = 100, after: PageCursor)");
    const r = await run(["--root", root.dir, "--director", root.write("d.graphql", text), "--dry-run"]);
    expect(r.exitCode).toBe(0);
    expect(relevant(r, "director")).toEqual([]);
    expect(ignored(r, "director").map((c) => [c.type, c.coordinate])).toEqual([
      ["ARG_REMOVED", "Bundle.apiDefinitions(group:)"],
      ["ARG_DEFAULT_VALUE_CHANGE", "Query.applicationsForRuntime(first:)"],
    ]);
  });

  test("a changed default of an argument some operation leaves out is dangerous for the agent", async () => {
    const source = alteredDirector("bundles(first: Int = 200, after: PageCursor)", "bundles(first: Int = 50, after: PageCursor)");
    const r = await run(["--root", root.dir, "--director", source, "--dry-run"]);
    expect(r.exitCode).toBe(0);
    // ApplicationsForRuntime passes `first` but not `after`; `after` has no default, `first` is always passed.
    expect(relevant(r, "director")).toEqual([]);
    // RuntimeLabels selects Runtime.labels without `key`: give the current schema a default and change it.
    const current = alter(root.read("schemas/compass/director.graphql"), "  labels(key: String): Labels\n  status: RuntimeStatus!", '  labels(key: String = "a"): Labels\n  status: RuntimeStatus!');
    root.write("schemas/compass/director.graphql", current);
    const omitted = root.write("d2.graphql", alter(current, 'labels(key: String = "a")', 'labels(key: String = "b")'));
    const r2 = await run(["--root", root.dir, "--director", omitted, "--dry-run"]);
    expect(r2.exitCode).toBe(0);
    expect(relevant(r2, "director").map((c) => [c.severity, c.type, c.coordinate, c.operations])).toEqual([
      ["dangerous", "ARG_DEFAULT_VALUE_CHANGE", "Runtime.labels(key:)", ["RuntimeLabels"]],
    ]);
    expect(r2.out).toContain("dangerous changes for the agent (1):");
  });

  test("a new member of a union the agent reads is dangerous; a new enum value nobody reads is ignored", async () => {
    let text = alter(
      root.read("schemas/compass/director.graphql"),
      "union CredentialData = BasicCredentialData | OAuthCredentialData | CertificateOAuthCredentialData",
      "union CredentialData = BasicCredentialData | OAuthCredentialData | CertificateOAuthCredentialData | TokenCredentialData\n\ntype TokenCredentialData {\n  token: String!\n}",
    );
    text = alter(text, "  UNPAIR_FAILED\n", "  UNPAIR_FAILED\n  ARCHIVED\n");
    const r = await run(["--root", root.dir, "--director", root.write("d.graphql", text), "--dry-run"]);
    expect(r.exitCode).toBe(0);
    const dangerous = relevant(r, "director");
    expect(dangerous.map((c) => [c.type, c.coordinate])).toEqual([["TYPE_ADDED_TO_UNION", "CredentialData"]]);
    expect(dangerous[0]!.operations).toEqual([
      "ApplicationBundlesPage",
      "ApplicationsForRuntime",
    ]);
    expect(ignored(r, "director").map((c) => [c.type, c.coordinate])).toEqual([["VALUE_ADDED_TO_ENUM", "ApplicationStatusCondition"]]);
  });

  test("an introspection result in a .json file is a source too", async () => {
    const schema = buildSchema(root.read("schemas/compass/connector.graphql"));
    const file = join(root.dir, "connector.json");
    writeFileSync(file, JSON.stringify({ data: introspectionFromSchema(schema) }));
    const r = await run(["--root", root.dir, "--connector", file, "--dry-run"]);
    expect(r.exitCode).toBe(0);
    expect(r.result.targets[0]!.changes).toEqual([]);
    expect(r.out).toContain(`connector: connector.json`);
  });
});

describe("other errors: exit 1, nothing written", () => {
  test("an unreadable file", async () => {
    const before = root.snapshot();
    const r = await run(["--root", root.dir, "--connector", join(root.dir, "nope.graphql"), "--director", director]);
    expect(r.exitCode).toBe(1);
    expect(r.err).toMatch(/✗ connector: cannot read .*nope\.graphql: ENOENT/);
    expect(r.err).toContain("nothing written");
    expect(root.snapshot()).toEqual(before);
  });

  test("a file that is not a valid schema", async () => {
    const r = await run(["--root", root.dir, "--connector", root.write("bad.graphql", "type Query { x: Nope }")]);
    expect(r.exitCode).toBe(1);
    expect(r.err).toContain('bad.graphql: not a valid GraphQL schema: Unknown type "Nope".');
  });

  test("bad flags", async () => {
    await expect(run(["--root", root.dir])).rejects.toThrow("give --connector and/or --director");
    await expect(run(["--connector", connector, "--bogus"])).rejects.toThrow(/Unknown option '--bogus'/);
  });
});

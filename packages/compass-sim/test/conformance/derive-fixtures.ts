/**
 * Derives the conformance fixtures from the recorded real-Compass transcripts. Run by hand, from the package folder,
 * whenever the transcripts change (the default test run never reads ../shared):
 *
 *   pnpm exec tsx test/conformance/derive-fixtures.ts [/work/shared/reference/real-compass/transcripts]
 *
 * What it writes to test/conformance/fixtures/:
 * - `order.json`: the replay order (the recording order, which the transcripts' state depends on); `file#i-j` is a
 *   part of a transcript, where the recording interleaved them;
 * - `dataset.json`: a seed equivalent to the recorded data set (README "Data set"), taken from the recorded answers;
 * - one `<transcript>.json` per transcript: each exchange's request and expected answer, with every volatile value
 *   replaced by a template the replay resolves against the simulator:
 *   `{{token:N}}` a one-time token, `{{cn:N}}` a SystemAuth id (certificate CN), `{{csr:N}}` a CSR the test makes
 *   (spec in `csrs`), and in answers `{{*kind}}` "any value of this kind" (uuid, token, b64pem, hostport, timestamp).
 *   A variable met first in an answer is captured from the simulator's answer; after that it must match exactly.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as pkijs from "pkijs";
import { decodeFirstPemBlock } from "../../src/csr.js";
import type {
  CsrSpec,
  FixtureExchange,
  FixtureFile,
  TlsRefusal,
} from "./support/fixture-types.js";

const here = dirname(fileURLToPath(import.meta.url));
const source = resolve(process.argv[2] ?? join(here, "../../../../../shared/reference/real-compass/transcripts"));
const target = join(here, "fixtures");

/**
 * The recording order (README "Data set": token-listener scenarios, then the first certificate calls, then the
 * Director scenarios, then renewal and revocation). Within the Director block the order follows the labels the
 * answers show: no `useBundles` before the combined query, `runtime_eventServiceUrl` only after
 * director-set-runtime-label-valid.json.
 */
const ORDER = [
  "runtime-lifecycle-labels-status.json#0",
  "connector-token-configuration-valid.json",
  "connector-token-sign-valid.json",
  "connector-token-configuration-used-token.json",
  "connector-token-configuration-made-up-token.json",
  "connector-token-configuration-empty-header.json",
  "connector-token-configuration-no-header.json",
  "connector-token-configuration-query-param.json",
  "connector-token-get.json",
  "connector-token-graphql-syntax-error.json",
  "connector-token-non-json-body.json",
  "connector-token-revoke.json",
  "connector-token-sign-csr-missing-ou.json",
  "connector-token-sign-csr-not-base64.json",
  "connector-token-sign-ecdsa.json",
  "connector-token-sign-rsa1024.json",
  "connector-token-sign-wrong-cn.json",
  "runtime-lifecycle-labels-status.json#1",
  "connector-mtls-configuration.json",
  "runtime-lifecycle-labels-status.json#2-5",
  "director-combined-query-rich.json",
  "runtime-lifecycle-labels-status.json#6",
  "director-combined-query-repeat.json",
  "director-tenant-own.json",
  "director-tenant-absent.json",
  "director-tenant-empty.json",
  "director-tenant-other-existing.json",
  "director-tenant-unknown.json",
  "director-applications-paging.json",
  "director-applications-bad-cursor.json",
  "director-applications-first-0.json",
  "director-applications-first-negative.json",
  "director-applications-nested-first-201.json",
  "director-nested-bundles-paging.json",
  "director-runtime-id-not-uuid.json",
  "director-runtime-id-other-runtime.json",
  "director-runtime-id-unknown.json",
  "director-graphql-syntax-error.json",
  "director-graphql-validation-error.json",
  "director-non-json-body.json",
  "director-runtime-label-protected-and-delete.json",
  "director-set-runtime-label-invalid-key.json",
  "director-set-runtime-label-valid.json",
  "director-set-runtime-label-non-string.json",
  "director-get.json",
  "connector-mtls-sign-renewal.json",
  "connector-mtls-revoke.json",
  "connector-mtls-revoked-cert.json",
  "director-revoked-cert.json",
  "connector-mtls-no-client-cert.json",
];

/** README "Certificates, by role": the exchange whose CSR key + issued chain is the certificate. */
const CERTIFICATE_DEFINITIONS: Record<string, { file: string; exchange: number }> = {
  A: { file: "connector-token-sign-valid.json", exchange: 0 },
  A2: { file: "connector-mtls-sign-renewal.json", exchange: 0 },
};

/** Transcripts whose token is deliberately unknown to Compass: sent as recorded. */
const LITERAL_TOKEN_FILES = new Set(["connector-token-configuration-made-up-token.json"]);

const KYMA_RUNTIME = "9c01cc9a-931b-4471-937a-a1c42315e4b5";
const OTHER_RUNTIME = "eb80629e-b32e-4364-b6ca-3f910143b85d";
const TENANT = "3e64ebae-38b5-46a0-b1ed-9ccee153a0ae";
const FOO_TENANT = "1eba80dd-8ff6-54ee-be4d-77944d17b10b";
/** README "Data set": the registered names behind the normalized `mp-…` names (all others: the name without `mp-`). */
const REGISTERED_NAMES: Record<string, string> = { "mp-corpus-field-service": "Corpus Field Service" };

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Transcript {
  scenario: string;
  why: string;
  setup?: string;
  exchanges: Array<{
    note?: string;
    listener: "token" | "mtls" | "admin-direct";
    request: { method: string; path: string; headers: Record<string, string>; clientCert?: string; tls?: string; body?: Json };
    response: { status: number; headers: Record<string, string>; body: Json } | null;
    transport?: { trace?: string[]; output?: string[] };
  }>;
  gatewayBehaviour?: boolean;
}

const tokenVars = new Map<string, string>();
const cnVars = new Map<string, string>();
let csrCount = 0;

function tokenVar(value: string): string {
  let name = tokenVars.get(value);
  if (!name) {
    name = `token:${tokenVars.size + 1}`;
    tokenVars.set(value, name);
  }
  return name;
}

function cnVar(value: string): string {
  let name = cnVars.get(value);
  if (!name) {
    name = `cn:${cnVars.size + 1}`;
    cnVars.set(value, name);
  }
  return name;
}

function isObject(value: unknown): value is Record<string, Json> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

interface DecodedCsr {
  attributes: Array<[string, string]>;
  key: string;
}

const SHORT_NAMES: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
};

function decodeCsr(text: string): DecodedCsr & { encoding: CsrSpec["encoding"] } {
  const pem = text.startsWith("-----BEGIN") ? text : Buffer.from(text, "base64").toString("latin1");
  const block = decodeFirstPemBlock(Buffer.from(pem, "latin1"));
  if (!block) throw new Error(`not a CSR: ${text.slice(0, 40)}`);
  const request = pkijs.CertificationRequest.fromBER(new Uint8Array(block.der));
  const attributes = request.subject.typesAndValues.map(
    (attribute) => [SHORT_NAMES[attribute.type] ?? attribute.type, String(attribute.value.valueBlock.value)] as [string, string],
  );
  const spki = request.subjectPublicKeyInfo;
  let key: string;
  if (spki.algorithm.algorithmId === "1.2.840.10045.2.1") key = "ec:prime256v1";
  else {
    const rsa = spki.parsedKey as pkijs.RSAPublicKey;
    key = `rsa:${(rsa.modulus.valueBlock.valueHexView.length - (rsa.modulus.valueBlock.valueHexView[0] === 0 ? 1 : 0)) * 8}`;
  }
  return { attributes, key, encoding: text.startsWith("-----BEGIN") ? "pem" : "base64" };
}

function commonName(attributes: Array<[string, string]>): string | undefined {
  return attributes.filter(([name]) => name === "CN").at(-1)?.[1];
}

function certificateRole(description: string | undefined): FixtureExchange["request"]["clientCert"] {
  if (description === undefined) return undefined;
  if (description === "none") return "none";
  if (description.startsWith("cert A2")) return "A2";
  if (description.startsWith("cert A:") || description.startsWith("cert A ")) return "A";
  if (description.startsWith("self-signed")) return "self-signed-A";
  throw new Error(`unknown client certificate role: ${description}`);
}

function requestToken(exchange: Transcript["exchanges"][number]): { where: "header" | "query"; value: string } | undefined {
  const header = exchange.request.headers["connector-token"];
  if (header !== undefined) return { where: "header", value: header };
  const match = /[?&]token=([^&]*)/.exec(exchange.request.path);
  return match ? { where: "query", value: decodeURIComponent(match[1]!) } : undefined;
}

const SUBJECT_CN = /^(.*,CN=)([^,]+)$/;
const ERROR_ID = /errorID=[0-9a-f-]{36}/g;
const CERTIFICATE_FIELDS = new Set(["certificateChain", "clientCertificate", "caCertificate"]);
const URL_FIELDS = new Set(["directorURL", "certificateSecuredConnectorURL"]);

/** Replaces the volatile values of an expected answer by templates (see the header comment). */
function templateAnswer(value: Json, key: string | undefined, listener: string): Json {
  if (Array.isArray(value)) return value.map((item) => templateAnswer(item, undefined, listener));
  if (isObject(value)) {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(value)) {
      if (listener === "admin-direct" && k === "auths" && Array.isArray(v)) {
        out[k] = v.map(() => ({ id: "{{*uuid}}" }));
      } else if (listener === "admin-direct" && k === "timestamp") {
        out[k] = "{{*timestamp}}";
      } else {
        out[k] = templateAnswer(v, k, listener);
      }
    }
    return out;
  }
  if (typeof value !== "string") return value;
  if (key === "token" && tokenVars.has(value)) return `{{${tokenVars.get(value)}}}`;
  if (key === "token") return `{{${tokenVar(value)}}}`;
  if (key === "subject") {
    const match = SUBJECT_CN.exec(value);
    if (match) return `${match[1]}{{${cnVar(match[2]!)}}}`;
  }
  if (key !== undefined && CERTIFICATE_FIELDS.has(key)) return "{{*b64pem}}";
  if (key !== undefined && URL_FIELDS.has(key)) return value.replace(/^https:\/\/[^/]+/, "https://{{*hostport}}");
  return value.replace(ERROR_ID, "errorID={{*uuid}}");
}

function tlsRefusal(exchange: Transcript["exchanges"][number]): TlsRefusal {
  const text = [...(exchange.transport?.trace ?? []), ...(exchange.transport?.output ?? [])].join("\n");
  const alerts: Array<[RegExp, TlsRefusal["alert"]]> = [
    [/certificate required/, "certificate required"],
    [/unknown ca/, "unknown ca"],
    [/handshake failure/, "handshake failure"],
  ];
  const alert = alerts.find(([pattern]) => pattern.test(text))?.[1];
  if (!alert) throw new Error(`no TLS alert in the transport record of "${exchange.note}"`);
  const sameSession = /then \/director\/graphql on the same transport/.test(exchange.note ?? "");
  return {
    alert,
    maxVersion: /TLS 1\.2/.test(exchange.request.tls ?? "") ? "TLSv1.2" : "TLSv1.3",
    ...(sameSession ? { http2SecondRequest: "/director/graphql" } : {}),
  };
}

function deriveFile(name: string, transcript: Transcript): FixtureFile {
  const exchanges: FixtureExchange[] = [];
  // A fresh token's SystemAuth id is the CN of the last CSR sent with it (the retries use the correct CSR).
  const freshTokenCn = new Map<string, string>();
  for (const exchange of transcript.exchanges) {
    const token = requestToken(exchange);
    const csr = isObject(exchange.request.body) && isObject(exchange.request.body["variables"])
      ? exchange.request.body["variables"]["csr"]
      : undefined;
    if (token && token.value !== "" && !tokenVars.has(token.value) && typeof csr === "string") {
      const cn = commonName(decodeCsr(csr).attributes);
      if (cn) freshTokenCn.set(token.value, cn);
    }
  }

  transcript.exchanges.forEach((exchange, index) => {
    const request = exchange.request;
    const issue: NonNullable<FixtureExchange["issue"]> = [];
    const headers: Record<string, string> = { ...request.headers };
    let path = request.path;
    const token = requestToken(exchange);
    if (token && token.value !== "" && !LITERAL_TOKEN_FILES.has(name)) {
      const known = tokenVars.has(token.value);
      const variable = tokenVar(token.value);
      if (!known) {
        const cn = freshTokenCn.get(token.value);
        issue.push({ token: variable, runtimeId: KYMA_RUNTIME, ...(cn ? { cn: cnVar(cn) } : {}) });
      }
      if (token.where === "header") headers["connector-token"] = `{{${variable}}}`;
      else path = path.replace(/([?&]token=)[^&]*/, `$1{{${variable}}}`);
    }
    const csrs: Record<string, CsrSpec> = {};
    let body: Json = request.body ?? "";
    if (isObject(body) && isObject(body["variables"]) && typeof body["variables"]["csr"] === "string") {
      const decoded = decodeCsr(body["variables"]["csr"]);
      const subject = decoded.attributes
        .map(([attribute, value]) => (attribute === "CN" && cnVars.has(value) ? `CN={{${cnVars.get(value)}}}` : `${attribute}=${value}`))
        .join(",");
      const variable = `csr:${++csrCount}`;
      csrs[variable] = { subject, key: decoded.key, encoding: decoded.encoding };
      body = { ...body, variables: { ...body["variables"], csr: `{{${variable}}}` } };
    }
    const defines = Object.entries(CERTIFICATE_DEFINITIONS).find(([, at]) => at.file === name && at.exchange === index)?.[0];
    const response = exchange.response;
    let expected: FixtureExchange["response"] = null;
    if (response) {
      const contentType = response.headers["content-type"];
      expected = {
        status: response.status,
        ...(contentType !== undefined ? { contentType } : {}),
        ...(response.body === "" ? { contentLength: response.headers["content-length"] ?? "0" } : {}),
        body: templateAnswer(response.body, undefined, exchange.listener),
      };
    }
    // A fresh token whose answer shows the subject: the CN there is the issued token's SystemAuth id.
    const answerCn = response && isObject(response.body) ? SUBJECT_CN.exec(JSON.stringify(response.body).match(/"subject":"([^"]*)"/)?.[1] ?? "") : null;
    for (const entry of issue) {
      if (entry.cn === undefined && answerCn) entry.cn = cnVar(answerCn[2]!);
    }
    const clientCert = certificateRole(request.clientCert);
    exchanges.push({
      label: exchange.note ?? (isObject(request.body) && typeof request.body["operationName"] === "string" ? request.body["operationName"] : `${request.method} ${request.path.split("?")[0]}`),
      listener: exchange.listener,
      request: {
        method: request.method,
        path,
        headers,
        ...(clientCert ? { clientCert } : {}),
        body,
      },
      ...(issue.length > 0 ? { issue } : {}),
      ...(Object.keys(csrs).length > 0 ? { csrs } : {}),
      ...(defines ? { definesCertificate: defines } : {}),
      response: expected,
      ...(transcript.gatewayBehaviour || exchange.response === null ? { tlsRefusal: tlsRefusal(exchange) } : {}),
    });
  });
  return {
    source: name,
    scenario: transcript.scenario,
    why: transcript.why,
    ...(transcript.gatewayBehaviour ? { gatewayBehaviour: true } : {}),
    exchanges,
  };
}

// ---- data set ----

type App = Record<string, Json>;

/** Turns a recorded application (the agent's selection) back into the simulator's application input. */
function applicationInput(app: App, formation: string): Json {
  const labels = isObject(app["labels"]) ? { ...app["labels"] } : {};
  // Added by the Director, not registered: the name label, managed, and scenarios (from the formation).
  delete labels["name"];
  delete labels["managed"];
  delete labels["scenarios"];
  const name = String(app["name"]);
  const bundles = isObject(app["bundles"]) && Array.isArray(app["bundles"]["data"]) ? app["bundles"]["data"] : [];
  return {
    id: app["id"] ?? null,
    name: REGISTERED_NAMES[name] ?? name.replace(/^mp-/, ""),
    ...(app["description"] !== null ? { description: app["description"] ?? null } : {}),
    ...(app["providerName"] !== null ? { providerName: app["providerName"] ?? null } : {}),
    ...(app["systemNumber"] !== null ? { systemNumber: app["systemNumber"] ?? null } : {}),
    labels,
    formations: [formation],
    bundles: bundles.filter(isObject).map((bundle) => ({
      id: bundle["id"] ?? null,
      name: bundle["name"] ?? null,
      ...(bundle["description"] !== null ? { description: bundle["description"] ?? null } : {}),
      ...(typeof bundle["instanceAuthRequestInputSchema"] === "string"
        ? { instanceAuthRequestInputSchema: bundle["instanceAuthRequestInputSchema"] }
        : {}),
      ...(isObject(bundle["defaultInstanceAuth"]) ? { defaultInstanceAuth: authInput(bundle["defaultInstanceAuth"]) } : {}),
      apiDefinitions: pageData(bundle["apiDefinitions"]).map((api) => definitionInput(api, true)),
      eventDefinitions: pageData(bundle["eventDefinitions"]).map((event) => definitionInput(event, false)),
    })),
  };
}

function pageData(page: Json | undefined): App[] {
  return isObject(page) && Array.isArray(page["data"]) ? page["data"].filter(isObject) : [];
}

function definitionInput(definition: App, api: boolean): Json {
  const version = isObject(definition["version"]) ? definition["version"] : undefined;
  return {
    id: definition["id"] ?? null,
    name: definition["name"] ?? null,
    ...(definition["description"] !== null ? { description: definition["description"] ?? null } : {}),
    ...(api ? { targetURL: definition["targetURL"] ?? null } : {}),
    ...(definition["group"] !== null ? { group: definition["group"] ?? null } : {}),
    // Registered with the value only (README: deprecated/forRemoval come back false, set by Compass).
    ...(version ? { version: { value: version["value"] ?? null } } : {}),
  };
}

function credentialInput(credential: Json | undefined): Json | undefined {
  if (!isObject(credential)) return undefined;
  const { __typename: _type, ...fields } = credential;
  return fields;
}

function authInput(auth: App): Json {
  const csrf = isObject(auth["requestAuth"]) && isObject(auth["requestAuth"]["csrf"]) ? auth["requestAuth"]["csrf"] : undefined;
  const credential = credentialInput(auth["credential"]);
  const csrfCredential = csrf ? credentialInput(csrf["credential"]) : undefined;
  return {
    ...(credential ? { credential } : {}),
    ...(isObject(auth["additionalHeaders"]) ? { additionalHeaders: auth["additionalHeaders"] } : {}),
    ...(isObject(auth["additionalQueryParams"]) ? { additionalQueryParams: auth["additionalQueryParams"] } : {}),
    ...(csrf
      ? {
          requestAuth: {
            csrf: {
              tokenEndpointURL: csrf["tokenEndpointURL"] ?? null,
              ...(csrfCredential ? { credential: csrfCredential } : {}),
            },
          },
        }
      : {}),
  };
}

function dataset(load: (name: string) => Transcript): Json {
  const rich = load("director-combined-query-rich.json").exchanges[0]!.response!.body as App;
  const other = load("director-runtime-id-other-runtime.json");
  const richApps = pageData((rich["data"] as App)["result"]);
  const otherApps = pageData((other.exchanges[1]!.response!.body as App)["data"] && ((other.exchanges[1]!.response!.body as App)["data"] as App)["result"]);
  return {
    tenants: [TENANT, { externalId: FOO_TENANT, name: "foo" }],
    runtimes: [
      { id: KYMA_RUNTIME, name: "rc-corpus-kyma", tenant: TENANT, labels: { runtimeType: "kyma" }, formations: ["rc-corpus-formation"] },
      { id: OTHER_RUNTIME, name: "rc-corpus-other", tenant: TENANT, labels: { runtimeType: "kyma" }, formations: ["rc-corpus-other-formation"] },
    ],
    applications: [
      ...richApps.map((app) => applicationInput(app, "rc-corpus-formation")),
      ...otherApps.map((app) => applicationInput(app, "rc-corpus-other-formation")),
    ],
  };
}

function main(): void {
  const load = (name: string) => JSON.parse(readFileSync(join(source, name), "utf8")) as Transcript;
  mkdirSync(target, { recursive: true });
  for (const name of new Set(ORDER.map((entry) => entry.split("#")[0]!))) {
    writeFileSync(join(target, name), `${JSON.stringify(deriveFile(name, load(name)), null, 2)}\n`);
  }
  writeFileSync(join(target, "order.json"), `${JSON.stringify(ORDER, null, 2)}\n`);
  writeFileSync(join(target, "dataset.json"), `${JSON.stringify(dataset(load), null, 2)}\n`);
  console.log(`fixtures written to ${target}`);
}

main();

/**
 * `startCompassSimulator`: three listeners around one CompassState.
 *
 * - token listener (HTTPS, no client certificate): `POST /connector/graphql`, `GET /connector/healthz`
 * - mTLS listener (HTTPS, client certificate required and verified in the handshake against the client CA):
 *   `POST /connector/graphql`, `POST /director/graphql`, `GET /connector/healthz`
 * - admin listener (plain HTTP, JSON; test-only, see admin.ts)
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import * as pkijs from "pkijs";
import { handleAdminRequest } from "./admin.js";
import { SimClock } from "./clock.js";
import { connectorSchema, createConnectorRoot, type ConnectorContext } from "./connector.js";
import { DEFAULT_SUBJECT, decodeFirstPemBlock, type SubjectConstants } from "./csr.js";
import {
  createApplication,
  patchApplication,
  type ApplicationInput,
  type ApplicationPatch,
} from "./applications.js";
import { createDirector, type DirectorFactory, type DirectorHandler } from "./director.js";
import { answerFault, describeFault, operationNames, sleep } from "./faults.js";
import { generateApplications, type GeneratedSet, type GenerateOptions } from "./generate.js";
import {
  executeOperation,
  isHttpResult,
  parseRequestBody,
  prepareOperation,
  type GraphQLHttpResult,
} from "./graphql-http.js";
import {
  BodyTooLargeError,
  DEFAULT_MAX_BODY_BYTES,
  isJsonContentType,
  readBody,
  sendJson,
  sendText,
  urlHost,
} from "./http-util.js";
import { authenticateCertificate, authenticateToken, type AuthOutcome } from "./identity.js";
import { CertificateIssuer, type CertificationResult } from "./issuer.js";
import { createSelfSignedCa, issueServerCertificate, loadCa } from "./pki.js";
import { applySeed, type SeedData, type SeedReport } from "./seed.js";
import {
  CompassState,
  StateError,
  type Application,
  type CreateRuntimeInput,
  type FaultRule,
  type FaultRuleInput,
  type Formation,
  type IssuedCertificate,
  type RequestLogEntry,
  type Runtime,
  type SystemAuth,
} from "./state.js";

const DAY = 86400;

export interface CompassSimulatorOptions {
  /** Listen address of all three listeners. Default `127.0.0.1`. */
  host?: string;
  /** Host name used in URLs (and in the server certificate). Default: `host`, or `127.0.0.1` for a wildcard host. */
  advertisedHost?: string;
  /** 0 (default) picks a free port. */
  tokenPort?: number;
  mtlsPort?: number;
  adminPort?: number;
  /** Lifetime of issued client certificates, in seconds. Default 90 days (Compass `2160h`). */
  certValidity?: number;
  /** Lifetime of runtime one-time tokens, in seconds. Default 3600 (60 minutes). */
  tokenTtl?: number;
  /** Lifetime of application one-time tokens, in seconds. Default 300. */
  applicationTokenTtl?: number;
  /** CSR subject constants. Default `O=Org,OU=OrgUnit,L=locality,ST=province,C=DE` (Compass chart). */
  subject?: Partial<SubjectConstants>;
  /** Compass quirk: every issued certificate gets serial number 2. Default false (random unique serials). */
  serial2?: boolean;
  /**
   * notBefore = min(simulator now, real now) (default true): identical to "notBefore = now" until the clock is
   * advanced, and keeps freshly issued certificates usable over real-clock TLS afterwards. false: notBefore is always
   * simulator now (such certificates fail the handshake as "not yet valid" while the clock is ahead of real time).
   */
  realTimeNotBefore?: boolean;
  /** Initial state: tenants, runtimes, applications, formations, hide selectors (see seed.ts). */
  seed?: SeedData;
  /** Synthetic applications for a new runtime, created after the seed (the CLI's `--generate-apps`). */
  generate?: GenerateOptions;
  /** `applicationHideSelectors`: label key → values that hide an application from every runtime. */
  hideSelectors?: Record<string, string[]>;
  /** Base time source in epoch ms; the simulator clock adds its offset to it. Default `Date.now`. */
  now?: () => number;
  /** Client CA to use instead of a freshly generated one (PEM certificate + RSA key), e.g. to survive restarts. */
  clientCa?: { certPem: string; keyPem: string };
  /** Request bodies above this size get HTTP 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Request log entries kept. Default 1000. */
  requestLogLimit?: number;
  /** Builds the Director behind `POST /director/graphql`. Default: the simulated Director (director.ts). */
  director?: DirectorFactory;
  /** Diagnostic lines (one per request and lifecycle event). Default: silent. */
  log?: (line: string) => void;
}

/** What `requestOneTimeTokenForRuntime` returns, as JSON-ready values. */
export interface OneTimeTokenView {
  token: string;
  connectorURL: string;
  used: boolean;
  createdAt: string;
  expiresAt: string;
  usedAt?: string;
  type: "Runtime" | "Application";
  systemAuthId: string;
  runtimeId: string;
}

export interface SignedCertificate {
  record: IssuedCertificate;
  /** PEM of the leaf. */
  certificatePem: string;
  /** The same fields `signCertificateSigningRequest` returns. */
  result: CertificationResult;
}

export interface CompassSimulator {
  /** Token-secured Connector (what a one-time token's `connectorURL` points at). */
  readonly connectorUrl: string;
  /** `managementPlaneInfo.certificateSecuredConnectorURL`. */
  readonly certSecuredConnectorUrl: string;
  /** `managementPlaneInfo.directorURL`. */
  readonly directorUrl: string;
  /** Base URL of the admin API, e.g. `http://127.0.0.1:1234` (routes under `/admin/...`). */
  readonly adminUrl: string;
  readonly tokenPort: number;
  readonly mtlsPort: number;
  readonly adminPort: number;
  /** CA that issued the listeners' server certificate (clients trust it, or skip verification). */
  readonly serverCaPem: string;
  readonly serverCaFile: string;
  /** CA that issues client certificates and that the mTLS listener trusts. */
  readonly clientCaPem: string;
  readonly clientCaFile: string;
  readonly subject: SubjectConstants;
  readonly state: CompassState;
  readonly clock: SimClock;
  readonly seedReport?: SeedReport;
  /** What `options.generate` created. */
  readonly generated?: GeneratedSet;
  /** Current simulator time. */
  now(): Date;
  createRuntime(input: CreateRuntimeInput): Runtime;
  /** Creates an application (see applications.ts for the input; ids are random UUIDs unless given). */
  createApplication(input: ApplicationInput): Application;
  /** Partial update: present fields replace the stored ones (`bundles` the whole list). */
  updateApplication(id: string, patch: ApplicationPatch): Application;
  deleteApplication(id: string): void;
  /** Puts a runtime or an application into a formation (created when missing). */
  assignFormation(formation: string, target: { runtimeId: string } | { applicationId: string }): Formation;
  /** Adds a fault rule (see faults.ts); rules apply in the order they were added. */
  addFault(rule: FaultRuleInput): FaultRule;
  /** Removes every fault rule; returns how many there were. */
  clearFaults(): number;
  /** Director `requestOneTimeTokenForRuntime(id[, systemAuthID])`: a new SystemAuth unless one is given. */
  issueToken(runtimeId: string, options?: { systemAuthId?: string }): OneTimeTokenView;
  /** Moves the simulator clock forward; returns the new time. */
  advanceClock(seconds: number): Date;
  /** Revokes one certificate by SHA-256 fingerprint (hex, colons allowed). Returns 1. */
  revoke(fingerprint: string): number;
  /** Revokes every issued certificate with this CN; returns how many. */
  revokeCommonName(commonName: string): number;
  /**
   * Test helper: issues a client certificate from the client CA for a CSR (PEM), skipping authentication and subject
   * checks; `notBefore`/`notAfter` may be set freely (e.g. already expired in real time).
   */
  signCsr(csrPem: string, options?: { notBefore?: Date; notAfter?: Date }): Promise<SignedCertificate>;
  close(): Promise<void>;
}

function tokenView(systemAuth: SystemAuth, connectorUrl: string): OneTimeTokenView {
  const ott = systemAuth.ott;
  if (!ott) throw new StateError(`SystemAuth ${systemAuth.id} has no token`, "NotFound");
  return {
    token: ott.token,
    connectorURL: connectorUrl,
    used: ott.used,
    createdAt: ott.createdAt.toISOString(),
    expiresAt: ott.expiresAt.toISOString(),
    ...(ott.usedAt ? { usedAt: ott.usedAt.toISOString() } : {}),
    type: ott.type,
    systemAuthId: systemAuth.id,
    runtimeId: systemAuth.refId,
  };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "";
}

export async function startCompassSimulator(options: CompassSimulatorOptions = {}): Promise<CompassSimulator> {
  const host = options.host ?? "127.0.0.1";
  const advertisedHost = options.advertisedHost ?? (isWildcard(host) ? "127.0.0.1" : host);
  const log = options.log ?? (() => {});
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const subject: SubjectConstants = { ...DEFAULT_SUBJECT, ...options.subject };
  for (const [key, value] of Object.entries(subject)) {
    if (typeof value !== "string" || value === "" || /[,=+]/.test(value)) {
      throw new RangeError(`subject.${key} must be a non-empty string without ',', '=' or '+'`);
    }
  }
  const certValidity = options.certValidity ?? 90 * DAY;
  if (!(certValidity >= 1)) throw new RangeError("certValidity must be at least 1 second");
  const tokenTtl = options.tokenTtl ?? 3600;
  if (!(tokenTtl > 0)) throw new RangeError("tokenTtl must be positive");

  const clock = new SimClock(options.now);
  const state = new CompassState(clock, {
    runtimeTokenTtlSeconds: tokenTtl,
    applicationTokenTtlSeconds: options.applicationTokenTtl ?? 300,
    ...(options.requestLogLimit !== undefined ? { requestLogLimit: options.requestLogLimit } : {}),
  });
  for (const [key, values] of Object.entries(options.hideSelectors ?? {})) state.hideSelectors.set(key, [...values]);
  const seedReport = options.seed !== undefined ? applySeed(state, options.seed) : undefined;
  const generated = options.generate ? generateApplications(state, options.generate) : undefined;

  // CA and server certificates are checked by real TLS stacks against the REAL clock: date them from real time.
  const realNow = Date.now();
  const caValidity = { notBefore: new Date(realNow - DAY * 1000), notAfter: new Date(realNow + 3650 * DAY * 1000) };
  const [serverCa, clientCa] = await Promise.all([
    createSelfSignedCa({ commonName: "compass-sim ingress CA", organization: "compass-sim", ...caValidity }),
    options.clientCa
      ? loadCa(options.clientCa.certPem, options.clientCa.keyPem)
      : createSelfSignedCa({ commonName: "compass-sim connector client CA", organization: "compass-sim", ...caValidity }),
  ]);
  const serverHosts = [advertisedHost, ...(isWildcard(host) ? [] : [host]), "localhost", "127.0.0.1", "::1"];
  const serverCert = await issueServerCertificate(serverCa, serverHosts, caValidity);
  const issuer = new CertificateIssuer(clientCa, state, clock, {
    certValiditySeconds: certValidity,
    constantSerial: options.serial2 ?? false,
    realTimeNotBefore: options.realTimeNotBefore ?? true,
  });

  const urls = { connectorUrl: "", certSecuredConnectorUrl: "", directorUrl: "", adminUrl: "" };
  const ports = { token: 0, mtls: 0, admin: 0 };
  const connectorRoot = createConnectorRoot({
    state,
    issuer,
    subject,
    directorUrl: () => urls.directorUrl,
    certificateSecuredConnectorUrl: () => urls.certSecuredConnectorUrl,
  });
  const director: DirectorHandler = (options.director ?? createDirector)({ state, clock });

  const record = (entry: Omit<RequestLogEntry, "time">) => {
    state.logRequest({ time: clock.now(), ...entry });
    const who = entry.identity ? ` ${entry.identity.via}:${entry.identity.systemAuthId}` : "";
    const ops = entry.operations.length > 0 ? ` ${entry.operations.join(",")}` : "";
    const errors = entry.errors.length > 0 ? ` errors=${JSON.stringify(entry.errors)}` : "";
    log(`${entry.listener} ${entry.method} ${entry.path}${ops}${who} -> ${entry.status}${errors}`);
  };

  async function handleGraphQL(
    listener: "token" | "mtls",
    api: "connector" | "director",
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: URLSearchParams,
  ): Promise<void> {
    const method = req.method ?? "GET";
    const base = { listener, method, path, api } as const;
    if (method !== "POST") {
      sendJson(res, 405, { errors: [{ message: "method not allowed" }], data: null }, { allow: "POST" });
      record({ ...base, operations: [], status: 405, errors: ["method not allowed"] });
      return;
    }

    if (listener === "mtls") {
      const socket = req.socket as TLSSocket;
      if (!socket.authorized || !socket.getPeerCertificate()?.raw) {
        // Unreachable with rejectUnauthorized: true; kept as a guard so no request runs without a verified cert.
        socket.destroy();
        return;
      }
    }

    let raw: Buffer;
    try {
      raw = await readBody(req, maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        sendJson(res, 413, { errors: [{ message: error.message }], data: null }, { connection: "close" });
        record({ ...base, operations: [], status: 413, errors: [error.message] });
        return;
      }
      throw error;
    }

    // Faults act like the gateway in front of Compass: before authentication, so a faulted call burns no token.
    const fault = state.takeFault(api, () => operationNames(raw));
    const faultLog = fault ? { fault: describeFault(fault) } : {};
    if (fault) {
      log(`${listener} ${method} ${path}: applying ${faultLog.fault}`);
      if (fault.delayMs !== undefined && fault.delayMs > 0) await sleep(fault.delayMs);
      const status = req.socket.destroyed ? 0 : answerFault(fault, res);
      if (status !== undefined) {
        record({ ...base, ...faultLog, operations: [], status, errors: status === 0 ? ["connection closed"] : [] });
        return;
      }
    }

    // Authentication runs before the body is parsed, like Oathkeeper in front of the Connector: a valid token is
    // burned even if the request then fails. Client-supplied Client-Id-*/Certificate-Data/Authorization headers are
    // never read.
    let auth: AuthOutcome;
    if (listener === "token") {
      const header = req.headers["connector-token"];
      const token = (Array.isArray(header) ? header[0] : header) ?? query.get("token") ?? undefined;
      auth = authenticateToken(state, token);
    } else {
      auth = authenticateCertificate(state, (req.socket as TLSSocket).getPeerCertificate().raw, subject);
    }
    const identityLog = auth.identity
      ? { identity: { systemAuthId: auth.identity.systemAuth.id, via: auth.identity.via } }
      : {};
    const fingerprintLog = auth.fingerprint ? { certificateFingerprint: auth.fingerprint } : {};
    const authErrors = auth.reason ? [`unauthenticated: ${auth.reason}`] : [];

    let result: GraphQLHttpResult;
    if (!isJsonContentType(req.headers["content-type"])) {
      result = { status: 400, body: { errors: [{ message: "transport not supported" }], data: null }, operations: [] };
    } else {
      const body = parseRequestBody(raw);
      if (isHttpResult(body)) {
        result = body;
      } else if (api === "director") {
        result = await director.handle({ body, auth, headers: req.headers });
      } else {
        const schema = connectorSchema();
        const prepared = prepareOperation(schema, body);
        if (isHttpResult(prepared)) {
          result = prepared;
        } else {
          const context: ConnectorContext = { listener, ...(auth.identity ? { identity: auth.identity } : {}) };
          result = await executeOperation(schema, body, prepared, connectorRoot, context);
        }
      }
    }
    if (result.noContentType) {
      const text = JSON.stringify(result.body);
      res.writeHead(result.status, { "content-length": Buffer.byteLength(text) });
      res.end(text);
    } else {
      sendJson(res, result.status, result.body);
    }
    record({
      ...base,
      ...faultLog,
      ...identityLog,
      ...fingerprintLog,
      operations: result.operations,
      status: result.status,
      errors: [...authErrors, ...(result.body.errors ?? []).map((error) => error.message)],
    });
  }

  function handler(listener: "token" | "mtls") {
    return (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? "/", "http://compass-sim");
      const path = url.pathname;
      const work = async () => {
        if (path === "/connector/healthz") {
          if (req.method === "GET" || req.method === "HEAD") sendText(res, 200, "ok");
          else sendText(res, 405, "method not allowed", { allow: "GET, HEAD" });
          return;
        }
        if (path === "/connector/graphql") return handleGraphQL(listener, "connector", req, res, path, url.searchParams);
        if (path === "/director/graphql" && listener === "mtls") {
          return handleGraphQL(listener, "director", req, res, path, url.searchParams);
        }
        sendText(res, 404, "404 page not found");
        record({ listener, method: req.method ?? "GET", path, operations: [], status: 404, errors: [] });
      };
      work().catch((error: unknown) => {
        log(`${listener} ${req.method} ${path} internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        if (!res.headersSent) sendJson(res, 500, { errors: [{ message: "internal simulator error" }], data: null });
        else res.destroy();
      });
    };
  }

  const tls = { key: serverCert.keyPem, cert: serverCert.certPem };
  const tokenServer = createHttpsServer({ ...tls }, handler("token"));
  const mtlsServer = createHttpsServer(
    // The client certificate is required and verified IN THE HANDSHAKE (like Istio `tls.mode: MUTUAL`): no
    // certificate, a foreign CA, or real-clock expiry fails the handshake, before any HTTP is exchanged.
    { ...tls, ca: clientCa.pem, requestCert: true, rejectUnauthorized: true },
    handler("mtls"),
  );
  const adminServer = createHttpServer();
  const servers: Server[] = [tokenServer, mtlsServer, adminServer];
  for (const server of [tokenServer, mtlsServer]) {
    server.on("tlsClientError", (error: Error) => log(`TLS handshake failed: ${error.message}`));
  }

  const tempDir = mkdtempSync(join(tmpdir(), "compass-sim-"));
  const serverCaFile = join(tempDir, "server-ca.pem");
  const clientCaFile = join(tempDir, "client-ca.pem");
  writeFileSync(serverCaFile, serverCa.pem);
  writeFileSync(clientCaFile, clientCa.pem);

  try {
    ports.token = await listen(tokenServer, options.tokenPort ?? 0, host);
    ports.mtls = await listen(mtlsServer, options.mtlsPort ?? 0, host);
    ports.admin = await listen(adminServer, options.adminPort ?? 0, host);
  } catch (error) {
    await Promise.all(servers.map(closeServer));
    rmSync(tempDir, { recursive: true, force: true });
    throw error;
  }
  const h = urlHost(advertisedHost);
  urls.connectorUrl = `https://${h}:${ports.token}/connector/graphql`;
  urls.certSecuredConnectorUrl = `https://${h}:${ports.mtls}/connector/graphql`;
  urls.directorUrl = `https://${h}:${ports.mtls}/director/graphql`;
  urls.adminUrl = `http://${h}:${ports.admin}`;

  let closed: Promise<void> | undefined;
  const simulator: CompassSimulator = {
    ...urls,
    tokenPort: ports.token,
    mtlsPort: ports.mtls,
    adminPort: ports.admin,
    serverCaPem: serverCa.pem,
    serverCaFile,
    clientCaPem: clientCa.pem,
    clientCaFile,
    subject,
    state,
    clock,
    ...(seedReport ? { seedReport } : {}),
    ...(generated ? { generated } : {}),
    now: () => clock.now(),
    createRuntime: (input) => state.createRuntime(input),
    createApplication: (input) => createApplication(state, input),
    updateApplication: (id, patch) => patchApplication(state, id, patch),
    deleteApplication: (id) => {
      state.deleteApplication(id);
    },
    assignFormation: (formation, target) => state.assignFormation(formation, target),
    addFault: (rule) => state.addFaultRule(rule),
    clearFaults: () => state.clearFaults(),
    issueToken: (runtimeId, tokenOptions = {}) =>
      tokenView(state.issueRuntimeToken(runtimeId, tokenOptions.systemAuthId), urls.connectorUrl),
    advanceClock: (seconds) => clock.advance(seconds),
    revoke: (fingerprint) => {
      state.revokeFingerprint(fingerprint);
      return 1;
    },
    revokeCommonName: (commonName) => state.revokeCommonName(commonName),
    async signCsr(csrPem, signOptions = {}) {
      const block = decodeFirstPemBlock(Buffer.from(csrPem, "utf8"));
      if (!block) throw new Error("signCsr: no PEM block in the CSR");
      const request = pkijs.CertificationRequest.fromBER(new Uint8Array(block.der));
      const { record: issued, material } = await issuer.issue(request.subject, request.subjectPublicKeyInfo, signOptions);
      return { record: issued, certificatePem: material.pem, result: issuer.encode(material.pem) };
    },
    close() {
      closed ??= (async () => {
        await Promise.all(servers.map(closeServer));
        rmSync(tempDir, { recursive: true, force: true });
        log("closed");
      })();
      return closed;
    },
  };
  adminServer.on("request", (req: IncomingMessage, res: ServerResponse) => {
    handleAdminRequest(simulator, req, res, maxBodyBytes).catch((error: unknown) => {
      log(`admin internal error: ${error instanceof Error ? error.message : String(error)}`);
      if (!res.headersSent) sendJson(res, 500, { error: "internal simulator error" });
    });
  });
  log(`listening: connector ${urls.connectorUrl}, mTLS ${urls.certSecuredConnectorUrl}, admin ${urls.adminUrl}`);
  return simulator;
}

/**
 * `startCompassSimulator`: three listeners around one CompassState.
 *
 * - token listener (TLS, no client certificate): `GET|POST /connector/graphql`, `GET /connector/healthz`
 * - mTLS listener (TLS, client certificate required and verified in the handshake against the client CA):
 *   `GET|POST /connector/graphql`, `GET|POST /director/graphql`, `GET /connector/healthz`
 * - admin listener (plain HTTP/1.1, JSON; test-only, see admin.ts and outage.ts)
 * Both TLS listeners speak HTTP/2 and HTTP/1.1 (ALPN `h2`, `http/1.1`), as Compass's ingress does: the agent's undici
 * negotiates h2 there.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createSecureServer, type Http2SecureServer } from "node:http2";
import type { AddressInfo, Socket } from "node:net";
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
import { createDirector, type DirectorFactory, type DirectorHandler, type DirectorOptions } from "./director.js";
import { answerFault, describeFault, operationNames, sleep } from "./faults.js";
import { generateApplications, type GeneratedSet, type GenerateOptions } from "./generate.js";
import {
  executeOperation,
  isHttpResult,
  parseGetRequest,
  parseRequestBody,
  prepareOperation,
  type GraphQLHttpResult,
  type GraphQLRequestBody,
} from "./graphql-http.js";
import {
  BodyTooLargeError,
  DEFAULT_MAX_BODY_BYTES,
  isHttp2,
  isJsonContentType,
  readBody,
  sendJson,
  sendText,
  sendUnauthenticated,
  urlHost,
  type AnyRequest,
  type AnyResponse,
} from "./http-util.js";
import { authenticateCertificate, authenticateToken, type AuthOutcome } from "./identity.js";
import { CertificateIssuer, type CertificationResult } from "./issuer.js";
import { DirectorOutage, handleOutageAdmin, type DirectorOutageInput } from "./outage.js";
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

/** Director behaviour switches (`nestedOrder`, `nestedOrderSeed`, legacy answers): see `DirectorOptions` in director.ts. */
export interface CompassSimulatorOptions extends DirectorOptions {
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
  /**
   * Legacy Connector answers, from before the simulator was checked against real Compass: an unauthenticated
   * Connector call gets HTTP 200 with the GraphQL error "Failed to authenticate request…" instead of HTTP 400 with an
   * empty body, and GET on the GraphQL routes gets 405. Default false.
   */
  legacyConnectorAnswers?: boolean;
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
  /**
   * Starts a Director outage (Compass's authentication chain failing, see outage.ts): Director calls get `answer`
   * (default HTTP 503), Connector calls HTTP 400 with an empty body WITHOUT spending the token. Returns the answer.
   */
  startDirectorOutage(answer?: DirectorOutageInput): DirectorOutageInput;
  /** Ends the outage; returns whether one was on. */
  endDirectorOutage(): boolean;
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

function listen(server: Server | Http2SecureServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops listening and destroys the open connections (`sockets`: those of an HTTP/2 server). */
function closeServer(server: Server | Http2SecureServer, sockets: ReadonlySet<Socket>): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    if ("closeAllConnections" in server) server.closeAllConnections();
    else for (const socket of sockets) socket.destroy();
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
  const director: DirectorHandler = (options.director ?? createDirector)({ state, clock, options });

  const record = (entry: Omit<RequestLogEntry, "time">) => {
    state.logRequest({ time: clock.now(), ...entry });
    const who = entry.identity ? ` ${entry.identity.via}:${entry.identity.systemAuthId}` : "";
    const ops = entry.operations.length > 0 ? ` ${entry.operations.join(",")}` : "";
    const errors = entry.errors.length > 0 ? ` errors=${JSON.stringify(entry.errors)}` : "";
    log(`${entry.listener} ${entry.method} ${entry.path}${ops}${who} -> ${entry.status}${errors}`);
  };

  const legacyConnectorAnswers = options.legacyConnectorAnswers ?? false;
  const outage = new DirectorOutage();

  /** gqlgen's transports: POST with a JSON body, GET with `?query=`; anything else is 405. */
  async function readGraphQLRequest(
    api: "connector" | "director",
    req: AnyRequest,
    raw: Buffer,
    query: URLSearchParams,
  ): Promise<GraphQLRequestBody | GraphQLHttpResult> {
    if (req.method === "GET") return parseGetRequest(query, api);
    if (!isJsonContentType(req.headers["content-type"])) {
      return { status: 400, body: { errors: [{ message: "transport not supported" }], data: null }, operations: [] };
    }
    return parseRequestBody(raw, api);
  }

  async function handleGraphQL(
    listener: "token" | "mtls",
    api: "connector" | "director",
    req: AnyRequest,
    res: AnyResponse,
    path: string,
    query: URLSearchParams,
  ): Promise<void> {
    const method = req.method ?? "GET";
    const base = { listener, method, path, api } as const;
    const allowed = legacyConnectorAnswers ? ["POST"] : ["GET", "POST"];
    if (!allowed.includes(method)) {
      sendJson(res, 405, { errors: [{ message: "method not allowed" }], data: null }, { allow: allowed.join(", ") });
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
        sendJson(res, 413, { errors: [{ message: error.message }], data: null }, isHttp2(req) ? {} : { connection: "close" });
        record({ ...base, operations: [], status: 413, errors: [error.message] });
        return;
      }
      throw error;
    }

    // Faults act like the gateway in front of Compass: before authentication, so a faulted call burns no token.
    // A Director outage comes next: the Director itself fails, and with it the identity lookups of the hydrators.
    const fault = state.takeFault(api, () => operationNames(raw)) ?? (api === "director" ? outage.asFaultRule() : undefined);
    const faultLog = fault ? { fault: describeFault(fault) } : {};
    if (fault) {
      log(`${listener} ${method} ${path}: applying ${faultLog.fault}`);
      if (fault.delayMs !== undefined && fault.delayMs > 0) await sleep(fault.delayMs);
      const status = answerFault(fault, res);
      if (status !== undefined) {
        record({ ...base, ...faultLog, operations: [], status, errors: status === 0 ? ["connection closed"] : [] });
        return;
      }
    }
    if (api === "connector" && outage.active && !legacyConnectorAnswers) {
      // The hydrator cannot resolve the token (or certificate) while the Director is down: 400, token NOT spent.
      sendUnauthenticated(res);
      record({ ...base, operations: [], status: 400, errors: ["unauthenticated: Director outage (identity lookup failed)"] });
      return;
    }

    // Authentication runs before the body is parsed, like Oathkeeper in front of the Connector: a valid token is
    // burned even if the request then fails. Client-supplied Client-Id-*/Certificate-Data/Authorization headers are
    // never read.
    let auth: AuthOutcome;
    if (listener === "token") {
      const header = req.headers["connector-token"];
      // An empty header counts as none: then `?token=` is used (the hydrator's order).
      const fromHeader = Array.isArray(header) ? header[0] : header;
      const token = fromHeader !== undefined && fromHeader !== "" ? fromHeader : (query.get("token") ?? undefined);
      auth = authenticateToken(state, token);
    } else {
      auth = authenticateCertificate(state, (req.socket as TLSSocket).getPeerCertificate().raw, subject);
    }
    const identityLog = auth.identity
      ? { identity: { systemAuthId: auth.identity.systemAuth.id, via: auth.identity.via } }
      : {};
    const fingerprintLog = auth.fingerprint ? { certificateFingerprint: auth.fingerprint } : {};
    const authErrors = auth.reason ? [`unauthenticated: ${auth.reason}`] : [];

    if (api === "connector" && !auth.identity && !legacyConnectorAnswers) {
      // Oathkeeper refuses before the Connector sees the request: HTTP 400, empty body (both listeners).
      sendUnauthenticated(res);
      record({ ...base, ...fingerprintLog, operations: [], status: 400, errors: authErrors });
      return;
    }

    let result: GraphQLHttpResult;
    const body = await readGraphQLRequest(api, req, raw, query);
    if (isHttpResult(body)) {
      result = body;
    } else if (api === "director") {
      result = await director.handle({ body, auth, headers: req.headers });
    } else {
      const schema = connectorSchema();
      const prepared = prepareOperation(schema, body, "connector");
      if (isHttpResult(prepared)) {
        result = prepared;
      } else if (method === "GET" && prepared.operation.operation !== "query") {
        result = { status: 406, body: { errors: [{ message: "GET requests only allow query operations" }], data: null }, operations: prepared.operations };
      } else {
        const context: ConnectorContext = { listener, ...(auth.identity ? { identity: auth.identity } : {}) };
        result = await executeOperation(schema, body, prepared, connectorRoot, context);
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
    return (req: AnyRequest, res: AnyResponse) => {
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
        else res.destroy?.();
      });
    };
  }

  // Both TLS listeners offer h2 and http/1.1 by ALPN (allowHTTP1), as Compass's ingress does.
  const tls = { key: serverCert.keyPem, cert: serverCert.certPem, allowHTTP1: true };
  const tokenServer = createSecureServer({ ...tls }, handler("token"));
  const mtlsServer = createSecureServer(
    // The client certificate is required and verified IN THE HANDSHAKE (like Istio `tls.mode: MUTUAL`): no
    // certificate, a foreign CA, or real-clock expiry fails the handshake, before any HTTP is exchanged.
    { ...tls, ca: clientCa.pem, requestCert: true, rejectUnauthorized: true },
    handler("mtls"),
  );
  const adminServer = createHttpServer();
  const servers: Array<Server | Http2SecureServer> = [tokenServer, mtlsServer, adminServer];
  // node:http2 servers have no closeAllConnections(): their connections are tracked to be destroyed on close.
  const tlsSockets = new Set<Socket>();
  for (const server of [tokenServer, mtlsServer]) {
    server.on("tlsClientError", (error: Error) => log(`TLS handshake failed: ${error.message}`));
    server.on("secureConnection", (socket: Socket) => {
      tlsSockets.add(socket);
      socket.once("close", () => tlsSockets.delete(socket));
    });
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
    await Promise.all(servers.map((server) => closeServer(server, tlsSockets)));
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
    startDirectorOutage: (answer) => {
      const started = outage.start(answer);
      log(`Director outage started: Director calls get ${JSON.stringify(started)}, Connector calls 400 (tokens kept)`);
      return started;
    },
    endDirectorOutage: () => {
      const ended = outage.end();
      if (ended) log("Director outage ended");
      return ended;
    },
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
        await Promise.all(servers.map((server) => closeServer(server, tlsSockets)));
        rmSync(tempDir, { recursive: true, force: true });
        log("closed");
      })();
      return closed;
    },
  };
  adminServer.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const answer = async () => {
      if (!(await handleOutageAdmin(outage, req, res, maxBodyBytes))) await handleAdminRequest(simulator, req, res, maxBodyBytes);
    };
    answer().catch((error: unknown) => {
      log(`admin internal error: ${error instanceof Error ? error.message : String(error)}`);
      if (!res.headersSent) sendJson(res, 500, { error: "internal simulator error" });
    });
  });
  log(`listening: connector ${urls.connectorUrl}, mTLS ${urls.certSecuredConnectorUrl}, admin ${urls.adminUrl}`);
  return simulator;
}

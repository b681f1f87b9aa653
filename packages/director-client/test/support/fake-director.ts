/**
 * A small Director for the client's tests: it executes the project's schema (schemas/compass/director.graphql) with
 * graphql-js over a loopback HTTPS server and pages like Compass does (contract §5.4): take items by id, offset cursors
 * base64("DpKtJ4j9jDq" + offset), startCursor = the `after` received, endCursor only when more remain, `first`
 * checked (1..200 on nested lists), error extensions {error, error_code}. Like real Compass, it answers a revoked
 * certificate or a Tenant header naming no known tenant with HTTP 401 code 26, and an existing tenant that is not the
 * runtime's with HTTP 400 TenantNotFound. Tests can mutate its state between requests, reorder the items within pages
 * (real Compass varies the order of nested lists) or script raw answers.
 */
import { readFileSync } from "node:fs";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { createSecureServer } from "node:http2";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Readable } from "node:stream";
import type { Server, TLSSocket } from "node:tls";
import { buildSchema, graphql, GraphQLError } from "graphql";
import type { GraphQLSchema } from "graphql";
import { makeServerTls } from "./tls-fixtures.js";
import type { ServerTls } from "./tls-fixtures.js";

export interface FakeVersion {
  value: string;
  deprecated?: boolean | null;
  deprecatedSince?: string | null;
  forRemoval?: boolean | null;
}

export interface FakeApi {
  id: string;
  name: string;
  description?: string | null;
  targetURL: string;
  group?: string | null;
  version?: FakeVersion | null;
}

export interface FakeEvent {
  id: string;
  name: string;
  description?: string | null;
  group?: string | null;
  version?: FakeVersion | null;
}

/** Wire shape of Auth; credentials carry `__typename` so graphql-js resolves the union. */
export interface FakeAuth {
  credential?: Record<string, unknown> | null;
  additionalHeaders?: unknown;
  additionalQueryParams?: unknown;
  requestAuth?: { csrf?: { tokenEndpointURL: string; credential?: Record<string, unknown> | null } | null } | null;
}

export interface FakeBundle {
  id: string;
  name: string;
  description?: string | null;
  instanceAuthRequestInputSchema?: unknown;
  defaultInstanceAuth?: FakeAuth | null;
  apis?: FakeApi[];
  events?: FakeEvent[];
}

export interface FakeApplication {
  id: string;
  name: string;
  systemNumber?: string | null;
  providerName?: string | null;
  description?: string | null;
  labels?: unknown;
  auths?: { id: string }[] | null;
  bundles?: FakeBundle[];
}

export interface SeenRequest {
  headers: IncomingHttpHeaders;
  /** "1.1" or "2.0" */
  httpVersion: string;
  operationName: string | undefined;
  query: string;
  variables: Record<string, unknown>;
  bytes: number;
}

/** What a script needs of a request and a response; node:https's and node:http2's compatibility objects both have it. */
export interface FakeRequest {
  headers: IncomingHttpHeaders;
  httpVersion: string;
  socket: { destroy(): void };
}

export interface FakeResponse {
  writeHead(status: number, headers?: OutgoingHttpHeaders): this;
  end(): this;
  end(body: string): this;
}

export type RawHandler = (req: FakeRequest, body: string, res: FakeResponse) => void;

/** HTTP/1.1 only (node:https), or h2 by ALPN with HTTP/1.1 allowed (node:http2), as real Compass's ingress. */
export type Protocol = "http/1.1" | "h2";

const CURSOR_PREFIX = "DpKtJ4j9jDq";

/** Reorders the items of one page (after they were taken in id order). */
export type PageOrder = <T extends { id: string }>(data: T[]) => T[];

export function encodeCursor(offset: number): string {
  return Buffer.from(`${CURSOR_PREFIX}${offset}`).toString("base64");
}

function compassError(message: string, error: string, code: number): GraphQLError {
  return new GraphQLError(message, { extensions: { error, error_code: code } });
}

function decodeCursor(after: unknown): number {
  if (after === undefined || after === null || after === "") return 0;
  const text = Buffer.from(String(after), "base64").toString("utf8");
  if (!text.startsWith(CURSOR_PREFIX) || !/^-?\d+$/.test(text.slice(CURSOR_PREFIX.length))) {
    throw compassError("Internal Server Error [errorID=fake, reason: cursor is not correct]", "InternalError", 10);
  }
  const offset = Number(text.slice(CURSOR_PREFIX.length));
  if (offset < 0) throw compassError("Invalid data [reason=cursor is not correct]", "InvalidData", 22);
  return offset;
}

/** Compass's offset paging over items ordered by id; `order` rearranges the page taken. */
export function compassPage<T extends { id: string }>(items: readonly T[], first: unknown, after: unknown, nested: boolean, order?: PageOrder) {
  if (first === null || first === undefined) {
    throw compassError("Invalid data [reason=missing required parameter 'first']", "InvalidData", 22);
  }
  const size = Number(first);
  if (nested && (size < 1 || size > 200)) throw compassError("Invalid data [reason=page size must be between 1 and 200]", "InvalidData", 22);
  if (size < 1) throw compassError("Invalid data [reason=page size cannot be smaller than 1]", "InvalidData", 22);
  const sorted = [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const offset = decodeCursor(after);
  const page = sorted.slice(offset, offset + size);
  const data = order ? order(page) : page;
  const more = sorted.length > offset + size;
  return {
    data,
    totalCount: sorted.length,
    pageInfo: { startCursor: typeof after === "string" ? after : "", endCursor: more ? encodeCursor(offset + size) : "", hasNextPage: more },
  };
}

let cachedSchema: GraphQLSchema | undefined;
function directorSchema(): GraphQLSchema {
  cachedSchema ??= buildSchema(readFileSync(new URL("../../../../schemas/compass/director.graphql", import.meta.url), "utf8"));
  return cachedSchema;
}

export class FakeDirector {
  readonly tls: ServerTls = makeServerTls();
  readonly runtimeId = "0ab2ca6e-767c-4d34-a292-618b01681c50";
  runtimeLabels: Record<string, unknown> | null = { isNormalized: "true" };
  applications: FakeApplication[] = [];
  /**
   * The runtime's tenant. When set, a Tenant header naming one of `otherTenants` gets HTTP 400 TenantNotFound, any
   * other value HTTP 401 code 26, as from real Compass.
   */
  tenant: string | undefined;
  /** Tenants that exist but are not the runtime's. */
  otherTenants: string[] = [];
  /** Whether the 400 TenantNotFound carries `content-type: application/json` (real Compass: it does). */
  tenantNotFoundContentType = true;
  /** The client certificate is revoked: every request gets HTTP 401 code 26. */
  revoked = false;
  /** Reorders the items within every page (applications and nested lists). */
  pageOrder: PageOrder | undefined;
  /** Called before each GraphQL execution with the 0-based request index; may change the state. */
  beforeExecute: ((index: number, request: SeenRequest) => void) | undefined;
  /** Answers instead of the GraphQL execution when it returns a handler. */
  raw: ((index: number, request: SeenRequest) => RawHandler | undefined) | undefined;
  readonly requests: SeenRequest[] = [];
  readonly #protocol: Protocol;
  #server: Server | undefined;
  readonly #sockets = new Set<TLSSocket>();
  url = "";

  constructor(protocol: Protocol = "http/1.1") {
    this.#protocol = protocol;
  }

  async start(): Promise<void> {
    const tls = { key: this.tls.keyPem, cert: this.tls.certPem };
    const listener = (req: FakeRequest & Readable, res: FakeResponse): void => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => void this.#handle(req, body, res));
    };
    const server = this.#protocol === "h2" ? createSecureServer({ ...tls, allowHTTP1: true }, listener) : createServer(tls, listener);
    server.on("secureConnection", (socket: TLSSocket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
    this.#server = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/director/graphql`;
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server?.close(resolve));
  }

  reset(): void {
    this.runtimeLabels = { isNormalized: "true" };
    this.applications = [];
    this.tenant = undefined;
    this.otherTenants = [];
    this.tenantNotFoundContentType = true;
    this.revoked = false;
    this.pageOrder = undefined;
    this.beforeExecute = undefined;
    this.raw = undefined;
    this.requests.length = 0;
  }

  /** Requests whose operation name is one of these. */
  operations(...names: string[]): SeenRequest[] {
    return this.requests.filter((r) => r.operationName !== undefined && names.includes(r.operationName));
  }

  async #handle(req: FakeRequest, body: string, res: FakeResponse): Promise<void> {
    let parsed: { query?: unknown; variables?: unknown; operationName?: unknown } = {};
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      parsed = {};
    }
    const request: SeenRequest = {
      headers: req.headers,
      httpVersion: req.httpVersion,
      operationName: typeof parsed.operationName === "string" ? parsed.operationName : undefined,
      query: typeof parsed.query === "string" ? parsed.query : "",
      variables: (parsed.variables as Record<string, unknown> | undefined) ?? {},
      bytes: Buffer.byteLength(body),
    };
    const index = this.requests.length;
    this.requests.push(request);
    const scripted = this.raw?.(index, request);
    if (scripted) {
      scripted(req, body, res);
      return;
    }
    const tenant = req.headers["tenant"];
    const foreignTenant = this.tenant !== undefined && tenant !== undefined && tenant !== "" && tenant !== this.tenant;
    if (this.revoked || (foreignTenant && !this.otherTenants.includes(String(tenant)))) {
      res.writeHead(401, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          errors: [{ message: "Unauthorized [reason=consumer with type <nil> is not supported]", extensions: { error: "Unauthorized", error_code: 26 } }],
          data: null,
        }),
      );
      return;
    }
    if (foreignTenant) {
      res.writeHead(400, this.tenantNotFoundContentType ? { "content-type": "application/json" } : {});
      res.end(
        JSON.stringify({
          errors: [{ message: `Tenant not found [externalTenant=${String(tenant)}]`, extensions: { error: "TenantNotFound", error_code: 25 } }],
          data: null,
        }),
      );
      return;
    }
    this.beforeExecute?.(index, request);
    const result = await graphql({
      schema: directorSchema(),
      source: request.query,
      variableValues: request.variables,
      operationName: request.operationName,
      rootValue: this.#root(),
    });
    const validationFailed = result.errors?.some((e) => e.path === undefined && e.extensions["error_code"] === undefined);
    const status = validationFailed && result.data === undefined ? 422 : 200;
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(result));
  }

  #root(): Record<string, unknown> {
    return {
      runtime: ({ id }: { id: string }) =>
        id === this.runtimeId && this.runtimeLabels !== null
          ? { id, name: "test-runtime", labels: () => this.runtimeLabels, status: { condition: "CONNECTED", timestamp: "2024-06-01T10:00:00Z" } }
          : null,
      applicationsForRuntime: ({ runtimeID, first, after }: { runtimeID: string; first: unknown; after: unknown }) => {
        if (runtimeID !== this.runtimeId) throw compassError("Invalid data [reason=runtime does not exist]", "InvalidData", 22);
        return compassPage(
          this.applications.map((app) => this.#application(app)),
          first,
          after,
          false,
          this.pageOrder,
        );
      },
      setRuntimeLabel: ({ runtimeID, key, value }: { runtimeID: string; key: string; value: unknown }) => {
        if (runtimeID !== this.runtimeId || this.runtimeLabels === null) {
          throw compassError(`Internal Server Error [errorID=fake, reason: Runtime with ID ${runtimeID} doesn't exist]`, "InternalError", 10);
        }
        if (!/^[a-zA-Z0-9_]*$/.test(key)) throw compassError("Invalid data LabelInput [key=must be in a valid format]", "InvalidData", 22);
        this.runtimeLabels[key] = value;
        return { key, value };
      },
      deleteRuntimeLabel: ({ runtimeID, key }: { runtimeID: string; key: string }) => {
        const labels = runtimeID === this.runtimeId ? this.runtimeLabels : null;
        if (labels === null || !(key in labels)) throw compassError(`Object not found [object=label; key=${key}]`, "NotFound", 20);
        const value = labels[key];
        delete labels[key];
        return { key, value };
      },
    };
  }

  #application(app: FakeApplication): { id: string } & Record<string, unknown> {
    const bundles = (app.bundles ?? []).map((b) => this.#bundle(b));
    return {
      id: app.id,
      name: app.name,
      systemNumber: app.systemNumber ?? null,
      providerName: app.providerName ?? null,
      description: app.description ?? null,
      labels: () => ("labels" in app ? app.labels : { scenarios: ["DEFAULT"] }),
      auths: app.auths === undefined ? [] : app.auths,
      status: { condition: "CONNECTED", timestamp: "2024-06-01T10:00:00Z" },
      bundles: ({ first, after }: { first: unknown; after: unknown }) => compassPage(bundles, first, after, true, this.pageOrder),
      bundle: ({ id }: { id: string }) => bundles.find((b) => b.id === id) ?? null,
    };
  }

  #bundle(bundle: FakeBundle): { id: string } & Record<string, unknown> {
    return {
      id: bundle.id,
      name: bundle.name,
      description: bundle.description ?? null,
      instanceAuthRequestInputSchema: bundle.instanceAuthRequestInputSchema ?? null,
      defaultInstanceAuth: bundle.defaultInstanceAuth ?? null,
      apiDefinitions: ({ first, after }: { first: unknown; after: unknown }) => compassPage(bundle.apis ?? [], first, after, true, this.pageOrder),
      eventDefinitions: ({ first, after }: { first: unknown; after: unknown }) =>
        compassPage(bundle.events ?? [], first, after, true, this.pageOrder),
    };
  }
}

/** Deterministic UUID-shaped ids that sort in creation order: `prefix` is 8 hex digits. */
export function fakeId(prefix: string, n: number): string {
  return `${prefix}-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
}

export function json(status: number, payload: unknown, headers: Record<string, string> = {}): RawHandler {
  return (_req, _body, res) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(payload));
  };
}

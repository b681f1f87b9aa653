import { randomUUID } from "node:crypto";
import { ConnectorError, ConnectorErrorCode } from "./errors.js";
import {
  ConfigurationDocument,
  RevokeCertificateDocument,
  SignCertificateSigningRequestDocument,
} from "./generated/graphql.js";
import { graphQLData, graphQLPost, graphQLQuery, GraphQLResponseError } from "./graphql-http.js";
import type { GraphQLDocument } from "./graphql-http.js";
import { classifyTransportError, CompassTransport, parseRetryAfter } from "./transport.js";
import type { ClientCertificate, TlsTrust, TransportFailureKind } from "./transport.js";
import type { ProxyConfig } from "./proxy.js";
import { validateCertificationResult, validateConfiguration } from "./validate.js";
import type { CertificationResult, ConnectorConfiguration } from "./validate.js";

export const DEFAULT_TIMEOUT_MS = 30_000;

/** One-time token auth (the token-secured Connector URL) or client-certificate auth (the mTLS URL). */
export type ConnectorAuth = { token: string } | { clientCertificate: ClientCertificate };

export interface ConnectorClientOptions {
  /** Connector GraphQL endpoint, e.g. https://compass-gateway.example.com/connector/graphql */
  url: string;
  auth: ConnectorAuth;
  tls?: TlsTrust | undefined;
  /** HTTP(S) proxy for the client's own transport (not used when `transport` is given). */
  proxy?: ProxyConfig | undefined;
  /** Per-call timeout (default 30 s). */
  timeoutMs?: number | undefined;
  /** Share one transport between clients (e.g. with the Director client); otherwise the client owns its own. */
  transport?: CompassTransport | undefined;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
  /** Sent as x-request-id; a random UUID when absent. */
  requestId?: string | undefined;
}

/** Typed client for the Compass Connector. */
export class ConnectorClient {
  readonly url: string;
  readonly #token: string | undefined;
  readonly #transport: CompassTransport;
  readonly #ownsTransport: boolean;
  readonly #timeoutMs: number;

  constructor(options: ConnectorClientOptions) {
    this.url = options.url;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#token = "token" in options.auth ? options.auth.token : undefined;
    this.#ownsTransport = options.transport === undefined;
    this.#transport =
      options.transport ??
      new CompassTransport({
        tls: options.tls,
        proxy: options.proxy,
        clientCertificate: "clientCertificate" in options.auth ? options.auth.clientCertificate : undefined,
      });
  }

  /** A client for the same URL and transport that authenticates with another one-time token. */
  withToken(token: string): ConnectorClient {
    return new ConnectorClient({ url: this.url, auth: { token }, timeoutMs: this.#timeoutMs, transport: this.#transport });
  }

  /** Replace the client certificate after a renewal; calls under way finish with the old one. */
  setClientCertificate(clientCertificate: ClientCertificate): void {
    this.#transport.setClientCertificate(clientCertificate);
  }

  /** CSR subject, management-plane URLs and a fresh one-time token. */
  async configuration(options: CallOptions = {}): Promise<ConnectorConfiguration> {
    const data = await this.#request("configuration", ConfigurationDocument, {}, options);
    return validateConfiguration(data.result);
  }

  /** Exchanges a CSR (base64 of its PEM text) for a certificate chain. */
  async signCertificateSigningRequest(csrBase64Pem: string, options: CallOptions = {}): Promise<CertificationResult> {
    const data = await this.#request(
      "signCertificateSigningRequest",
      SignCertificateSigningRequestDocument,
      { csr: csrBase64Pem },
      options,
    );
    return validateCertificationResult(data.result);
  }

  /** Revokes the client certificate this call is made with (mTLS only). */
  async revokeCertificate(options: CallOptions = {}): Promise<boolean> {
    const data = await this.#request("revokeCertificate", RevokeCertificateDocument, {}, options);
    if (typeof data.result !== "boolean") {
      throw new ConnectorError(ConnectorErrorCode.BAD_RESPONSE, "revokeCertificate did not return a boolean", {
        operation: "revokeCertificate",
      });
    }
    return data.result;
  }

  async close(): Promise<void> {
    if (this.#ownsTransport) await this.#transport.close();
  }

  async #request<TData, TVariables extends Record<string, unknown>>(
    operation: string,
    document: GraphQLDocument<TData, TVariables>,
    variables: TVariables,
    options: CallOptions,
  ): Promise<TData> {
    const requestId = options.requestId ?? randomUUID();
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    // Lower-case names, as graphql-request sent them.
    const headers: Record<string, string> = { "x-request-id": requestId };
    if (this.#token !== undefined) headers["connector-token"] = this.#token;
    const query = graphQLQuery(document);
    try {
      // new URL, as graphql-request did: an invalid URL fails here as a plain TypeError (BAD_RESPONSE), not in fetch.
      const response = await this.#transport.fetch(new URL(this.url), graphQLPost(query, variables, headers, signal));
      const body = await response.text();
      const data = graphQLData(
        { status: response.status, headers: response.headers, body, contentType: response.headers.get("content-type") },
        { query: query.query, variables },
      );
      if (data === null || typeof data !== "object") {
        throw new ConnectorError(ConnectorErrorCode.BAD_RESPONSE, `${operation}: the answer has no data`, {
          operation,
          requestId,
        });
      }
      return data as TData;
    } catch (error) {
      throw toConnectorError(error, {
        operation,
        requestId,
        timedOut: timeout.aborted,
        aborted: options.signal?.aborted,
        explain: (e) => this.#transport.explainFailure(e),
      });
    }
  }
}

interface FailureContext {
  operation: string;
  requestId: string;
  timedOut: boolean;
  aborted: boolean | undefined;
  /** Sorts a network failure into TLS or unavailable; defaults to classifyTransportError. */
  explain?: (error: unknown) => { kind: TransportFailureKind; detail: string };
}

const AUTH_MESSAGE = /authenticat|one time token|unauthori[sz]ed|insufficient scopes|invalid subject/i;

/** Maps anything a call can throw to a ConnectorError. Messages never contain the token. */
export function toConnectorError(error: unknown, context: FailureContext): ConnectorError {
  const { operation, requestId } = context;
  const base = { operation, requestId, cause: error };
  if (error instanceof ConnectorError) return error;
  if (context.aborted) {
    return new ConnectorError(ConnectorErrorCode.ABORTED, `${operation} was aborted`, base);
  }
  if (context.timedOut) {
    return new ConnectorError(ConnectorErrorCode.TIMEOUT, `${operation}: Compass did not answer in time`, base);
  }
  if (error instanceof GraphQLResponseError) {
    const { status } = error.response;
    // As graphql-request typed it: errors is an array of { message } (the execution-result check allows any object).
    const messages = ((error.response.errors ?? []) as { message: string }[]).map((e) => e.message).filter(Boolean);
    const retryAfterMs = parseRetryAfter(error.response.headers?.get("retry-after"));
    const details = { ...base, status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
    const summary = messages.length > 0 ? messages.join("; ") : `HTTP ${status}`;
    if (status === 400 && error.response.body.trim() === "") {
      return new ConnectorError(
        ConnectorErrorCode.NOT_AUTHENTICATED,
        `${operation}: Compass did not authenticate the call (HTTP 400 with an empty body). Either it refused our credentials — ` +
          "the one-time token was used, expired or unknown, or the client certificate is revoked or unknown: get a new one-time token — " +
          "or Compass's own authentication is failing, in which case a token is not spent and a later attempt with it can succeed",
        details,
      );
    }
    if (status === 401 || status === 403 || messages.some((m) => AUTH_MESSAGE.test(m))) {
      return new ConnectorError(
        ConnectorErrorCode.AUTH_FAILED,
        `${operation}: Compass did not accept our credentials (${summary}); a new one-time token or certificate is needed`,
        details,
      );
    }
    if (status === 429 || status >= 500) {
      return new ConnectorError(ConnectorErrorCode.UNAVAILABLE, `${operation}: Compass is unavailable (${summary})`, details);
    }
    if (messages.length > 0 && status < 300) {
      return new ConnectorError(ConnectorErrorCode.REJECTED, `${operation}: Compass refused the request: ${summary}`, details);
    }
    return new ConnectorError(ConnectorErrorCode.BAD_RESPONSE, `${operation}: unexpected answer from Compass (${summary})`, details);
  }
  if (error instanceof TypeError && (error.message === "fetch failed" || error.cause !== undefined)) {
    const { kind, detail } = (context.explain ?? classifyTransportError)(error);
    if (kind === "proxy") {
      return new ConnectorError(ConnectorErrorCode.PROXY_FAILED, `${operation}: the proxy to Compass refused or could not be reached: ${detail}`, base);
    }
    return kind === "tls"
      ? new ConnectorError(ConnectorErrorCode.TLS_FAILED, `${operation}: TLS with Compass failed: ${detail}`, base)
      : new ConnectorError(ConnectorErrorCode.UNAVAILABLE, `${operation}: cannot reach Compass: ${detail}`, base);
  }
  const name = error instanceof Error ? error.name : "";
  if (name === "AbortError" || name === "TimeoutError") {
    return new ConnectorError(ConnectorErrorCode.TIMEOUT, `${operation}: Compass did not answer in time`, base);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ConnectorError(ConnectorErrorCode.BAD_RESPONSE, `${operation}: unreadable answer from Compass: ${message}`, base);
}

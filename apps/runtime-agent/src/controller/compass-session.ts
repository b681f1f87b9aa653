import { createHash } from "node:crypto";
import { CompassTransport, ConnectorClient, ConnectorError, ConnectorErrorCode, pairWithToken, renewWithCertificate } from "@runtime-agent/connector-client";
import type { ConnectorConfiguration, FlowOptions, ProxyConfig, TlsTrust } from "@runtime-agent/connector-client";
import { DirectorClient } from "@runtime-agent/director-client";
import type { AgentMetrics } from "../observability/metrics.js";
import { clientCertificate, fromRuntimeCredentials } from "./credentials.js";
import type { AgentCredentials } from "./credentials.js";

export interface CompassSessionOptions {
  tls: TlsTrust;
  /** The proxy for every Connector and Director call (HTTPS_PROXY / NO_PROXY, config/proxy.ts); direct when absent. */
  proxy?: ProxyConfig | undefined;
  metrics: AgentMetrics;
  /** RSA key size of new keys; undefined: the size the Connector's keyAlgorithm names (Compass: rsa2048). */
  keySize: number | undefined;
  now: () => Date;
  /** Per-request timeout of every Connector and Director call (APP_COMPASS_REQUEST_TIMEOUT); the clients' default (30 s) when absent. */
  requestTimeoutMs?: number | undefined;
}

/**
 * The agent's connection to Compass: the client certificate it holds in memory and one mTLS transport shared by
 * the Connector and Director clients. After a renewal the transport switches certificates without dropping calls.
 */
export class CompassSession {
  readonly #options: CompassSessionOptions;
  #credentials: AgentCredentials | undefined;
  #transport: CompassTransport | undefined;
  /**
   * The one-time token the last failed pairing's `configuration` returned, for the token it started from: that
   * `configuration` spent the configured token, so a retry after a transient failure of the signing step uses
   * this one instead (in memory only; a restart needs a new token then).
   */
  #nextToken: { for: string; token: string } | undefined;

  constructor(options: CompassSessionOptions) {
    this.#options = options;
  }

  get credentials(): AgentCredentials | undefined {
    return this.#credentials;
  }

  /** Use these credentials from now on (after pairing, renewal, or reading them from the Secrets). */
  use(credentials: AgentCredentials): void {
    // (After close() the certificate is known but the transport is gone: build a new one.)
    if (this.#transport && this.#credentials?.fingerprint === credentials.fingerprint) return;
    this.#credentials = credentials;
    if (this.#transport) this.#transport.setClientCertificate(clientCertificate(credentials));
    else this.#transport = new CompassTransport({ tls: this.#options.tls, proxy: this.#options.proxy, clientCertificate: clientCertificate(credentials) });
  }

  /** Forget the certificate (Compass refused it). */
  forget(): void {
    this.#credentials = undefined;
    const transport = this.#transport;
    this.#transport = undefined;
    void transport?.close().catch(() => undefined);
  }

  /**
   * The token flow: configuration with the token, CSR, signing with the token configuration returned. When an
   * earlier attempt with the same token got as far as `configuration`, the token that call returned is used.
   */
  async pair(connectorUrl: string, token: string, requestId: string, signal: AbortSignal): Promise<{ credentials: AgentCredentials; configuration: ConnectorConfiguration }> {
    const origin = createHash("sha256").update(`${connectorUrl}\n${token}`).digest("hex");
    const next = this.#nextToken?.for === origin ? this.#nextToken.token : undefined;
    try {
      const result = await this.#options.metrics.timeCompass("pair", () =>
        pairWithToken(connectorUrl, next ?? token, {
          ...this.#flowOptions(requestId, signal),
          onSigningToken: (issued) => {
            this.#nextToken = { for: origin, token: issued };
          },
        }),
      );
      this.#nextToken = undefined;
      return { credentials: fromRuntimeCredentials(result), configuration: result.configuration };
    } catch (error) {
      // Refused or unacceptable: a retry cannot help, and the token Compass returned is spent or useless too —
      // except when Compass could not authenticate the signing call (HTTP 400, empty body): its own authentication
      // may have been failing, and then the token `configuration` returned is still unspent.
      const keep = (error as { retryable?: unknown }).retryable === true || (error instanceof ConnectorError && error.code === ConnectorErrorCode.NOT_AUTHENTICATED);
      if (!keep) this.#nextToken = undefined;
      throw error;
    }
  }

  /** Whether a failed pairing left a token from Compass to retry with (for the configured token). */
  hasRetryToken(connectorUrl: string, token: string): boolean {
    return this.#nextToken?.for === createHash("sha256").update(`${connectorUrl}\n${token}`).digest("hex");
  }

  /** `configuration` over mTLS: proves the certificate works and returns the current management-plane URLs. */
  async checkConnection(connectorUrl: string, requestId: string, signal: AbortSignal): Promise<ConnectorConfiguration> {
    const client = new ConnectorClient({
      url: connectorUrl,
      auth: { clientCertificate: this.#requireCredentials() },
      transport: this.#requireTransport(),
      timeoutMs: this.#options.requestTimeoutMs,
    });
    return this.#options.metrics.timeCompass("configuration", () => client.configuration({ requestId, signal }));
  }

  /** A new key and certificate over mTLS; the old certificate stays valid until it expires. */
  async renew(connectorUrl: string, requestId: string, signal: AbortSignal): Promise<{ credentials: AgentCredentials; configuration: ConnectorConfiguration }> {
    const current = this.#requireCredentials();
    const result = await this.#options.metrics.timeCompass("renew", () =>
      renewWithCertificate(connectorUrl, current, this.#flowOptions(requestId, signal)),
    );
    return { credentials: fromRuntimeCredentials(result), configuration: result.configuration };
  }

  /** What the pairing and renewal flows take from this session. */
  #flowOptions(requestId: string, signal: AbortSignal): FlowOptions {
    const { tls, proxy, keySize, requestTimeoutMs, now } = this.#options;
    return { tls, proxy, keySize, requestId, signal, timeoutMs: requestTimeoutMs, now };
  }

  director(url: string, tenant: string | undefined): DirectorClient {
    return new DirectorClient({ url, tenant: tenant || undefined, transport: this.#requireTransport(), timeoutMs: this.#options.requestTimeoutMs });
  }

  async close(): Promise<void> {
    await this.#transport?.close();
    this.#transport = undefined;
  }

  #requireCredentials() {
    if (!this.#credentials) throw new Error("no client certificate loaded");
    return clientCertificate(this.#credentials);
  }

  #requireTransport(): CompassTransport {
    if (!this.#transport) throw new Error("no client certificate loaded");
    return this.#transport;
  }
}

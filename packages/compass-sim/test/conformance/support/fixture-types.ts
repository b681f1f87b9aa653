/** The shape of test/conformance/fixtures/*.json (written by derive-fixtures.ts). */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A CSR the replay makes with openssl; `subject` may hold `{{cn:N}}`. */
export interface CsrSpec {
  subject: string;
  /** openssl `-newkey` form: `rsa:2048`, `rsa:1024`, `ec:prime256v1`. */
  key: string;
  /** `base64`: std base64 of the PEM (what the Connector expects); `pem`: the PEM text itself. */
  encoding: "base64" | "pem";
}

/** A gateway refusal in the TLS handshake: no HTTP status at all. */
export interface TlsRefusal {
  alert: "certificate required" | "handshake failure" | "unknown ca";
  maxVersion: "TLSv1.2" | "TLSv1.3";
  /** The agent's transport case: a second request on the same HTTP/2 session. */
  http2SecondRequest?: string;
}

export interface FixtureExchange {
  label: string;
  listener: "token" | "mtls" | "admin-direct";
  request: {
    method: string;
    /** May hold `{{token:N}}` in `?token=`. */
    path: string;
    headers: Record<string, string>;
    clientCert?: "A" | "A2" | "none" | "self-signed-A";
    /** JSON request body, or raw text ("" for none). */
    body: JsonValue;
  };
  /** Tokens to issue (Director `requestOneTimeTokenForRuntime`) before the request; `cn` names the SystemAuth id. */
  issue?: Array<{ token: string; runtimeId: string; cn?: string }>;
  csrs?: Record<string, CsrSpec>;
  /** This exchange's CSR key and issued chain are the certificate of this role from here on. */
  definesCertificate?: string;
  response: {
    status: number;
    contentType?: string;
    /** Present when the body is empty. */
    contentLength?: string;
    body: JsonValue;
  } | null;
  tlsRefusal?: TlsRefusal;
}

export interface FixtureFile {
  source: string;
  scenario: string;
  why: string;
  gatewayBehaviour?: boolean;
  exchanges: FixtureExchange[];
}

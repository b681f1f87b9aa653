import { startedAgents } from "./agent-process.js";
import { CLIENT_SECRET } from "./scenario.js";
import type { Scenario } from "./scenario.js";

/** A one-time token's shape: 88 characters of URL-safe base64 (64 random bytes). */
const TOKEN_SHAPE = /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{86}(?:==|[A-Za-z0-9_-]{2})(?![A-Za-z0-9_-])/;

/**
 * Collects the secret values of a scenario as they are now: every one-time token issued (by the test or handed out
 * by the Connector), the private key in the client certificate Secret (and earlier ones via `remember`), and the
 * given application credentials.
 */
export class SecretWatch {
  readonly #values = new Set<string>();

  constructor(readonly scenario: Scenario) {}

  add(...values: string[]): void {
    for (const value of values) if (value.length >= 6) this.#values.add(value);
  }

  /** Remembers the current private key and the simulator's current tokens. */
  async remember(): Promise<void> {
    const secret = await this.scenario.store.secrets.find(CLIENT_SECRET.namespace, CLIENT_SECRET.name);
    const key = secret?.data["key"];
    if (key) {
      // The base64 body lines of the PEM: any of them in an output means the key leaked.
      for (const line of key.split("\n")) if (/^[A-Za-z0-9+/=]{40,}$/.test(line)) this.#values.add(line);
    }
    for (const systemAuth of (await this.scenario.admin.call<{ systemAuths: { oneTimeToken?: { token: string } }[] }>("GET", "/admin/state")).systemAuths) {
      if (systemAuth.oneTimeToken) this.#values.add(systemAuth.oneTimeToken.token);
    }
    for (const token of this.scenario.tokens) this.#values.add(token);
  }

  /**
   * Scans the full output of every agent process of this file, every Event in namespace default and the
   * CompassConnection; returns one line per finding (empty = clean).
   */
  async scan(): Promise<string[]> {
    await this.remember();
    const sources: [string, string][] = startedAgents.map((agent, i) => [`agent process #${i + 1} output`, agent.output()]);
    const events = await this.scenario.kube.events("default");
    sources.push(["Events in default", JSON.stringify(events)]);
    const ccs = await this.scenario.store.compassConnections.list();
    sources.push(["CompassConnection", JSON.stringify(ccs)]);
    const findings: string[] = [];
    for (const [where, text] of sources) {
      for (const value of this.#values) if (text.includes(value)) findings.push(`${where} contains a secret value (${value.slice(0, 4)}…)`);
      if (/PRIVATE KEY/.test(text)) findings.push(`${where} contains a PEM private key`);
      const token = TOKEN_SHAPE.exec(text);
      if (token) findings.push(`${where} contains a token-shaped string (${token[0].slice(0, 4)}…)`);
      if (/"(password|clientSecret|client_secret|TOKEN|token)"\s*:\s*"[^"*[]/.test(text)) findings.push(`${where} contains a credential field with a value`);
    }
    return findings;
  }
}

import { startedAgents } from "./agent-process.js";
import type { AgentProcess } from "./agent-process.js";
import { CLIENT_SECRET } from "./scenario.js";
import type { AppInput, Scenario } from "./scenario.js";

/** A one-time token's shape: 88 characters of URL-safe base64 (64 random bytes). */
const TOKEN_SHAPE = /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{86}(?:==|[A-Za-z0-9_-]{2})(?![A-Za-z0-9_-])/;

/**
 * Everything a secret could leak into: the full output of every agent process of the file, every Event in
 * `default`, the CompassConnection, every /metrics page the agents served (captured while they ran), and extra
 * texts (CLI output). Secret values: the tokens the scenario issued and the simulator handed out, every private key
 * the client certificate Secret held (remember()), and the values given to add().
 */
export class SecretWatch {
  readonly #values = new Set<string>();
  readonly #metrics = new Map<AgentProcess, string[]>();
  readonly #extra: [string, string][] = [];

  constructor(readonly scenario: Scenario) {}

  add(...values: string[]): void {
    for (const value of values) if (value.length >= 6) this.#values.add(value);
  }

  /** Text that is not the agent's (e.g. CLI stdout/stderr) but must not hold secrets either. */
  addText(where: string, text: string): void {
    this.#extra.push([where, text]);
  }

  /** The current private key (its base64 lines) and every token the simulator knows. */
  async remember(): Promise<void> {
    const secret = await this.scenario.store.secrets.find(CLIENT_SECRET.namespace, CLIENT_SECRET.name);
    const key = secret?.data["key"];
    if (key) for (const line of key.split("\n")) if (/^[A-Za-z0-9+/=]{40,}$/.test(line)) this.#values.add(line);
    const state = await this.scenario.admin.call<{ systemAuths: { oneTimeToken?: { token: string } }[] }>("GET", "/admin/state");
    for (const systemAuth of state.systemAuths) if (systemAuth.oneTimeToken) this.#values.add(systemAuth.oneTimeToken.token);
    for (const token of this.scenario.tokens) this.#values.add(token);
  }

  /** Keeps the /metrics page of every agent that still runs (call before stopping one, and at the end). */
  async captureMetrics(): Promise<void> {
    for (const agent of startedAgents) {
      if (agent.exitStatus() !== undefined) continue;
      try {
        const text = await agent.metrics();
        const list = this.#metrics.get(agent) ?? [];
        list.push(text);
        this.#metrics.set(agent, list);
      } catch {
        // not serving yet or already stopping
      }
    }
  }

  /** How many /metrics pages were captured (a scan over none would prove nothing). */
  get metricsPages(): number {
    return [...this.#metrics.values()].reduce((n, pages) => n + pages.length, 0);
  }

  /** One line per finding; empty = clean. */
  async scan(): Promise<string[]> {
    await this.remember();
    await this.captureMetrics();
    const sources: [string, string][] = startedAgents.map((agent, i) => [`agent process #${i + 1} output`, agent.output()]);
    for (const [agent, pages] of this.#metrics) sources.push([`agent process #${startedAgents.indexOf(agent) + 1} /metrics`, pages.join("\n")]);
    sources.push(["Events in default", JSON.stringify(await this.scenario.kube.events("default"))]);
    sources.push(["CompassConnection", JSON.stringify(await this.scenario.store.compassConnections.list())]);
    sources.push(...this.#extra);
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

/**
 * Secret values of every kind an application can carry, each starting with `prefix` (distinct per test file, so a
 * finding names its file), and an application named "secretive" that carries them all: Basic credentials with
 * additional headers and query parameters, OAuth with CSRF. `invalidToken` is for a refused one-time token.
 */
export function secretiveApplication(prefix: string) {
  const values = {
    basicPassword: `${prefix}-basic-P4ssw0rd`,
    clientSecret: `${prefix}-oauth-cl13nt-s3cr3t`,
    csrfPassword: `${prefix}-csrf-P4ss`,
    headerValue: `${prefix}-header-api-key-value`,
    queryValue: `${prefix}-query-api-key-value`,
    invalidToken: `${prefix}-invalid-token-value-0123456789`,
  };
  const application: AppInput = {
    name: "secretive",
    bundles: [
      {
        name: "basic",
        apiDefinitions: [{ name: "a", targetURL: "https://s.example.com/a" }],
        defaultInstanceAuth: {
          credential: { username: `${prefix}-user`, password: values.basicPassword },
          additionalHeaders: { "X-Api-Key": [values.headerValue] },
          additionalQueryParams: { apikey: [values.queryValue] },
        },
      },
      {
        name: "oauth",
        apiDefinitions: [{ name: "b", targetURL: "https://s.example.com/b" }],
        defaultInstanceAuth: {
          credential: { clientId: `${prefix}-client`, clientSecret: values.clientSecret, url: "https://s.example.com/token" },
          requestAuth: { csrf: { tokenEndpointURL: "https://s.example.com/csrf", credential: { username: "csrf-user", password: values.csrfPassword } } },
        },
      },
    ],
  };
  return { values, application };
}

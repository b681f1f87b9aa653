/** A thin client for the simulator's admin HTTP API (the same one external checks use). */
export class SimAdmin {
  constructor(readonly adminUrl: string) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(new URL(path, this.adminUrl), {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as T;
  }

  createRuntime(name: string): Promise<{ id: string; tenant: string }> {
    return this.call("POST", "/admin/runtimes", { name });
  }

  issueToken(runtimeId: string): Promise<{ token: string; connectorURL: string; expiresAt: string }> {
    return this.call("POST", `/admin/runtimes/${runtimeId}/tokens`);
  }

  advanceClock(seconds: number): Promise<{ now: string }> {
    return this.call("POST", "/admin/clock", { advanceSeconds: seconds });
  }

  /** Unregisters an application as Compass allows it: out of every formation first (code 27 otherwise), then deleted. */
  async removeApplication(id: string): Promise<void> {
    const app = await this.call<{ labels: { scenarios?: string[] } }>("GET", `/admin/applications/${id}`);
    for (const formation of app.labels.scenarios ?? []) {
      await this.call("POST", "/admin/formations/unassign", { formation, applicationId: id });
    }
    await this.call("DELETE", `/admin/applications/${id}`);
  }

  revoke(fingerprint: string): Promise<{ revoked: number }> {
    return this.call("POST", "/admin/revoke", { fingerprint });
  }

  state(): Promise<{
    runtimes: { id: string }[];
    issuedCertificates: { commonName: string; fingerprint: string; notBefore: string; notAfter: string; revoked: boolean }[];
  }> {
    return this.call("GET", "/admin/state");
  }
}

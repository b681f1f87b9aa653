// The fault proxy in front of the shared real kube-apiserver (vitest global setup): faults are checked from
// both sides — what the client saw through the proxy, and what the API server really holds (asked directly).
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import type {} from "../src/vitest-global-setup.js"; // types of inject()
import { KubeClient } from "../src/client.js";
import { readKubeconfig } from "../src/kubeconfig.js";
import { KubeTestenvError, startFaultProxy, type FaultProxy } from "../src/index.js";
import { abortableRequest, clientFor, openWatch, portOpen } from "./helpers.js";

const ns = `fault-proxy-${randomBytes(3).toString("hex")}`;
const SECRETS = `/api/v1/namespaces/${ns}/secrets`;
const secret = (name: string) => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name },
  stringData: { k: "v" },
});
const connectionError = expect.objectContaining({ code: expect.stringMatching(/^(ECONNRESET|EPIPE)$/) });

describe("fault proxy", () => {
  let proxy: FaultProxy;
  let direct: KubeClient; // admin, straight to the API server: the truth
  let viaProxy: KubeClient; // admin (client certificate) through the proxy
  let agentViaProxy: KubeClient; // the agent's bearer token through the proxy

  beforeAll(async () => {
    direct = clientFor(inject("kubeconfigPath"));
    proxy = await startFaultProxy({ kubeconfig: inject("kubeconfigPath") });
    viaProxy = clientFor(await proxy.kubeconfigFor(inject("kubeconfigPath")));
    agentViaProxy = clientFor(await proxy.kubeconfigFor(inject("agentKubeconfigPath")));
    await direct.expectOk("POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: ns },
    });
  });

  afterAll(async () => {
    for (const c of [direct, viaProxy, agentViaProxy]) c?.close();
    await proxy?.close();
  });

  const exists = async (name: string) => (await direct.request("GET", `${SECRETS}/${name}`)).status === 200;

  it("passes requests through with the caller's identity (client certificate or bearer token)", async () => {
    expect((await viaProxy.request("GET", "/api/v1/namespaces")).status).toBe(200);
    expect((await viaProxy.request("POST", SECRETS, secret("plain"))).status).toBe(201);
    expect(await exists("plain")).toBe(true);

    const whoami = async (c: KubeClient) => {
      const res = await c.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {
        apiVersion: "authentication.k8s.io/v1",
        kind: "SelfSubjectReview",
      });
      expect(res.status).toBe(201);
      return (res.json as { status: { userInfo: { username: string; groups: string[] } } }).status.userInfo;
    };
    expect((await whoami(viaProxy)).groups).toContain("system:masters");
    expect((await whoami(agentViaProxy)).username).toBe(
      "system:serviceaccount:kyma-system:compass-runtime-agent",
    );
    // RBAC still applies to the agent: the proxy adds no privileges.
    expect((await agentViaProxy.request("GET", "/api/v1/nodes")).status).toBe(403);

    expect(proxy.requests.find((r) => r.method === "POST" && r.path === SECRETS)).toMatchObject({
      status: 201,
      upstreamStatus: 201,
      forwarded: true,
      fault: undefined,
      state: "answered",
    });
  });

  it("status: the 2nd POST gets 500 with a Kubernetes Status, is not forwarded, and the object does not exist", async () => {
    const rule = proxy.arm({ method: "POST", path: SECRETS, nth: 2, fault: { kind: "status", status: 500 } });
    expect((await viaProxy.request("POST", SECRETS, secret("s1"))).status).toBe(201);
    const res = await viaProxy.request("POST", SECRETS, secret("s2"));
    expect(res.status).toBe(500);
    expect(res.json).toMatchObject({ kind: "Status", status: "Failure", reason: "InternalError", code: 500 });
    expect((await viaProxy.request("POST", SECRETS, secret("s3"))).status).toBe(201); // one-shot
    expect(await exists("s1")).toBe(true);
    expect(await exists("s2")).toBe(false);

    const hit = await rule.hit;
    expect(hit).toMatchObject({ method: "POST", status: 500, forwarded: false, fault: { kind: "status" } });
    expect(rule.hits).toEqual([hit]);
    expect(rule.matched).toBe(2); // spent after its hit: s3 was not counted
  });

  it("reset: the client sees a connection error and the request never reached the API server", async () => {
    const rule = proxy.arm({ method: "POST", path: SECRETS, fault: { kind: "reset" } });
    await expect(viaProxy.request("POST", SECRETS, secret("r1"))).rejects.toEqual(connectionError);
    expect(await exists("r1")).toBe(false);
    expect(await rule.hit).toMatchObject({ status: undefined, forwarded: false, state: "cut" });
  });

  it("reset-after-forward: the client sees a connection error but the object DOES exist", async () => {
    const rule = proxy.arm({ method: "POST", path: SECRETS, fault: { kind: "reset-after-forward" } });
    await expect(viaProxy.request("POST", SECRETS, secret("raf1"))).rejects.toEqual(connectionError);
    expect(await exists("raf1")).toBe(true);
    expect(await rule.hit).toMatchObject({
      status: undefined,
      upstreamStatus: 201,
      forwarded: true,
      state: "cut",
    });
  });

  it("every from the Nth on, until disarmed", async () => {
    const path = `${SECRETS}/plain`;
    const rule = proxy.arm({
      method: "GET",
      path,
      nth: 2,
      every: true,
      fault: { kind: "status", status: 503 },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await viaProxy.request("GET", path)).status);
    rule.disarm();
    statuses.push((await viaProxy.request("GET", path)).status);
    expect(statuses).toEqual([200, 503, 503, 200]);
    expect(rule.matched).toBe(3);
  });

  it("timeout: the request is held, not forwarded, until the client gives up", async () => {
    const rule = proxy.arm({ method: "POST", path: SECRETS, fault: { kind: "timeout" } });
    const creds = readKubeconfig(await proxy.kubeconfigFor(inject("kubeconfigPath")));
    const call = abortableRequest(creds, "POST", SECRETS, secret("t1"));
    const held = await rule.hit; // resolves while the client still waits
    expect(held).toMatchObject({ state: "open", status: undefined, forwarded: false });
    call.abort();
    await expect(call.response).rejects.toMatchObject({ name: "AbortError" });
    // The proxy notices the client's disconnect on its own socket, a moment after the client did.
    await vi.waitFor(() => expect(held.state).toBe("cut"));
    expect(await exists("t1")).toBe(false);
  });

  it("delay: forwards after the delay", async () => {
    const rule = proxy.arm({ method: "GET", path: `${SECRETS}/plain`, fault: { kind: "delay", ms: 20 } });
    expect((await viaProxy.request("GET", `${SECRETS}/plain`)).status).toBe(200);
    expect(await rule.hit).toMatchObject({ status: 200, forwarded: true, fault: { kind: "delay", ms: 20 } });
  });

  it("streams a watch through unbuffered: an event arrives while the watch is open", async () => {
    const creds = readKubeconfig(await proxy.kubeconfigFor(inject("kubeconfigPath")));
    const list = await viaProxy.expectOk("GET", `/api/v1/namespaces/${ns}/configmaps`);
    const rv = (list.json as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    const ended = proxy.nextMatch({ method: "GET", path: /\/configmaps\?watch=true/ });
    const watch = await openWatch(
      creds,
      `/api/v1/namespaces/${ns}/configmaps?watch=true&resourceVersion=${rv}`,
    );
    try {
      expect(watch.status).toBe(200);
      const event = watch.next((e) => e.object.metadata.name === "cm-watch");
      await direct.expectOk("POST", `/api/v1/namespaces/${ns}/configmaps`, {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "cm-watch" },
      });
      expect(await event).toMatchObject({ type: "ADDED" });
      expect(watch.ended()).toBe(false);
    } finally {
      watch.close();
    }
    // The client closed the watch: the proxy records it as cut after a 200 head.
    expect(await ended).toMatchObject({ status: 200, state: "cut" });
  });

  it("nextMatch resolves once the answer was written", async () => {
    const next = proxy.nextMatch({ method: "DELETE", path: SECRETS });
    expect((await viaProxy.request("DELETE", `${SECRETS}/s1`)).status).toBe(200);
    expect(await next).toMatchObject({
      method: "DELETE",
      path: `${SECRETS}/s1`,
      status: 200,
      state: "answered",
    });
  });

  it("refuses a client certificate it was not given through kubeconfigFor", async () => {
    const other = await startFaultProxy({ kubeconfig: inject("kubeconfigPath") });
    const admin = readKubeconfig(inject("kubeconfigPath"));
    const stranger = new KubeClient({ ...admin, server: other.url, ca: other.ca });
    try {
      const res = await stranger.request("GET", "/api/v1/namespaces");
      expect(res.status).toBe(401);
      expect(other.requests[0]).toMatchObject({ status: 401, forwarded: false });
    } finally {
      stranger.close();
      await other.close();
    }
  });

  it("close() cuts held requests, rejects pending waits, stops listening and is idempotent", async () => {
    const other = await startFaultProxy({ kubeconfig: inject("kubeconfigPath") });
    const client = clientFor(await other.kubeconfigFor(inject("agentKubeconfigPath")));
    const held = other.arm({ path: "/api/v1/namespaces/kyma-system", fault: { kind: "timeout" } });
    const waiting = other.nextMatch({ path: "/never" });
    // It fails while close() runs: take its outcome as a value now, so the rejection is handled from the start.
    const pending = client
      .request("GET", "/api/v1/namespaces/kyma-system/secrets", undefined, undefined, 600_000)
      .then(
        (res) => res,
        (err: unknown) => err,
      );
    await held.hit;
    await other.close();
    expect(await pending).toEqual(connectionError);
    await expect(waiting).rejects.toBeInstanceOf(KubeTestenvError);
    await expect(waiting).rejects.toMatchObject({ code: "PROXY_CLOSED" });
    expect(await portOpen(Number(new URL(other.url).port))).toBe(false);
    await other.close();
    client.close();
  });
});

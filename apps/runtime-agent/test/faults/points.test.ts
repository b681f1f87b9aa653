import { describe, expect, test } from "vitest";
import type { ProxiedRequest } from "@runtime-agent/kube-testenv";
import { allCases, kubePoints, patternRegExp, pointId } from "./points.js";

// Requests as the agent sends them (recorded from a life through the fault proxy): one path read, listed with
// different selectors and watched; a fault armed for one of them must hit that one and none of the others.
const TARGETS: [string, string][] = [
  ["GET", "/apis/compass.kyma-project.io/v1alpha1/compassconnections?limit=500"],
  ["GET", "/apis/compass.kyma-project.io/v1alpha1/compassconnections/compass-connection"],
  ["GET", "/apis/compass.kyma-project.io/v1alpha1/compassconnections?watch=true&resourceVersion=214&allowWatchBookmarks=true&timeoutSeconds=444"],
  ["GET", "/api/v1/namespaces/kyma-system/secrets?fieldSelector=metadata.name%3Dcompass-agent-configuration&limit=500"],
  ["GET", "/api/v1/namespaces/kyma-system/secrets?fieldSelector=metadata.name%3Dcluster-client-certificates&limit=500"],
  ["GET", "/api/v1/namespaces/kyma-system/secrets?watch=true&resourceVersion=214&allowWatchBookmarks=true&timeoutSeconds=568&fieldSelector=metadata.name%3Dcompass-agent-configuration"],
  ["GET", "/api/v1/namespaces/kyma-system/secrets?labelSelector=app%2CbundleId&limit=500"],
  ["GET", "/api/v1/namespaces/kyma-system/secrets/cluster-client-certificates"],
  ["GET", "/apis/applicationconnector.kyma-project.io/v1alpha1/applications?labelSelector=&limit=500"],
  ["POST", "/api/v1/namespaces/kyma-system/secrets?fieldManager=compass-runtime-agent"],
  ["PUT", "/api/v1/namespaces/kyma-system/secrets/cluster-client-certificates?fieldManager=compass-runtime-agent"],
  ["POST", "/api/v1/namespaces/default/events?fieldManager=compass-runtime-agent"],
  ["PATCH", "/api/v1/namespaces/default/events/compass-connection.18a2b3c4d5e6f708?fieldManager=compass-runtime-agent"],
];

const requests = (targets: [string, string][]): ProxiedRequest[] =>
  targets.map(([method, path], i) => ({ seq: i + 1, method, path }) as ProxiedRequest);

describe("fault points", () => {
  test("every request is one point; reads with other selectors, lists and watches of one path are different points", () => {
    const points = kubePoints("pair", requests(TARGETS));
    expect(points.map(pointId)).toEqual([
      "pair kube GET /apis/compass.kyma-project.io/v1alpha1/compassconnections #1",
      "pair kube GET /apis/compass.kyma-project.io/v1alpha1/compassconnections/compass-connection #1",
      "pair kube WATCH /apis/compass.kyma-project.io/v1alpha1/compassconnections #1",
      "pair kube GET /api/v1/namespaces/kyma-system/secrets?fieldSelector=metadata.name%3Dcompass-agent-configuration #1",
      "pair kube GET /api/v1/namespaces/kyma-system/secrets?fieldSelector=metadata.name%3Dcluster-client-certificates #1",
      "pair kube WATCH /api/v1/namespaces/kyma-system/secrets?fieldSelector=metadata.name%3Dcompass-agent-configuration #1",
      "pair kube GET /api/v1/namespaces/kyma-system/secrets?labelSelector=app%2CbundleId #1",
      "pair kube GET /api/v1/namespaces/kyma-system/secrets/cluster-client-certificates #1",
      "pair kube GET /apis/applicationconnector.kyma-project.io/v1alpha1/applications #1",
      "pair kube POST /api/v1/namespaces/kyma-system/secrets #1",
      "pair kube PUT /api/v1/namespaces/kyma-system/secrets/cluster-client-certificates #1",
      "pair kube POST /api/v1/namespaces/default/events #1",
      "pair kube PATCH /api/v1/namespaces/default/events/* #1",
    ]);
  });

  test("a point's rule matches its own request and no other recorded one", () => {
    const points = kubePoints("pair", requests(TARGETS));
    points.forEach((point, i) => {
      const rule = patternRegExp(point.pattern, point.method);
      const method = point.method === "WATCH" ? "GET" : point.method;
      const matching = TARGETS.filter(([m, path]) => m === method && rule.test(path)).map(([, path]) => path);
      expect(matching, pointId(point)).toEqual([TARGETS[i]?.[1]]);
    });
  });

  test("the ordinal counts the requests of the same point", () => {
    const points = kubePoints("renew", requests([TARGETS[6], TARGETS[3], TARGETS[6], TARGETS[9], TARGETS[9]] as [string, string][]));
    expect(points.map(pointId)).toEqual([
      "renew kube GET /api/v1/namespaces/kyma-system/secrets?labelSelector=app%2CbundleId #1",
      "renew kube GET /api/v1/namespaces/kyma-system/secrets?fieldSelector=metadata.name%3Dcompass-agent-configuration #1",
      "renew kube GET /api/v1/namespaces/kyma-system/secrets?labelSelector=app%2CbundleId #2",
      "renew kube POST /api/v1/namespaces/kyma-system/secrets #1",
      "renew kube POST /api/v1/namespaces/kyma-system/secrets #2",
    ]);
  });

  test("reads and watches fail with 5xx or a cut connection; writes get every kind", () => {
    const points = kubePoints("pair", requests(TARGETS));
    const kinds = (id: string) => allCases(points.filter((p) => pointId(p) === id)).map((c) => c.kind);
    expect(kinds("pair kube WATCH /apis/compass.kyma-project.io/v1alpha1/compassconnections #1")).toEqual(["status", "reset"]);
    expect(kinds("pair kube GET /api/v1/namespaces/kyma-system/secrets/cluster-client-certificates #1")).toEqual(["status", "reset"]);
    expect(kinds("pair kube POST /api/v1/namespaces/kyma-system/secrets #1")).toEqual(["status", "timeout", "reset", "reset-after-forward", "kill"]);
  });
});

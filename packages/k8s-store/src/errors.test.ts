import { ApiException } from "@kubernetes/client-node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { K8sStoreError, parseStatusBody, toK8sStoreError } from "./errors.js";

const status = (code: number, reason: string, message: string): string => JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message });

describe("toK8sStoreError", () => {
  it.each([
    [404, "NotFound", "K8S_NOT_FOUND", false],
    [409, "Conflict", "K8S_CONFLICT", true],
    [409, "AlreadyExists", "K8S_ALREADY_EXISTS", false],
    [403, "Forbidden", "K8S_FORBIDDEN", false],
    [401, "Unauthorized", "K8S_UNAUTHORIZED", true],
    [422, "Invalid", "K8S_INVALID", false],
    [400, "BadRequest", "K8S_INVALID", false],
    [415, "UnsupportedMediaType", "K8S_INVALID", false],
    [410, "Expired", "K8S_GONE", true],
    [429, "TooManyRequests", "K8S_UNAVAILABLE", true],
    [500, "InternalError", "K8S_UNAVAILABLE", true],
    [503, "ServiceUnavailable", "K8S_UNAVAILABLE", true],
    [504, "Timeout", "K8S_UNAVAILABLE", true],
    [418, "Teapot", "K8S_UNEXPECTED", false],
  ] as const)("maps HTTP %i %s to %s", (code, reason, expected, retryable) => {
    const err = new ApiException(code, "Unknown API Status Code!", status(code, reason, `it failed: ${reason}`), {});
    const mapped = toK8sStoreError(err, "get secrets kyma-system/x");
    expect(mapped).toBeInstanceOf(K8sStoreError);
    expect(mapped.code).toBe(expected);
    expect(mapped.retryable).toBe(retryable);
    expect(mapped.statusCode).toBe(code);
    expect(mapped.reason).toBe(reason);
    expect(mapped.message).toContain("get secrets kyma-system/x: it failed");
    expect(mapped.cause).toBe(err);
  });

  it("maps a 401 without a body", () => {
    const mapped = toK8sStoreError(new ApiException(401, "Unauthorized", undefined, {}), "list applications");
    expect(mapped.code).toBe("K8S_UNAUTHORIZED");
    expect(mapped.message).toContain("Unauthorized");
  });

  it("accepts an already parsed Status body", () => {
    const mapped = toK8sStoreError(new ApiException(409, "x", { reason: "AlreadyExists", message: "exists" }, {}), "create");
    expect(mapped.code).toBe("K8S_ALREADY_EXISTS");
  });

  it("maps undici network failures (TypeError: fetch failed with a cause) to K8S_UNAVAILABLE", () => {
    const cause = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6443"), { code: "ECONNREFUSED" });
    const mapped = toK8sStoreError(new TypeError("fetch failed", { cause }), "get compassconnections compass-connection");
    expect(mapped.code).toBe("K8S_UNAVAILABLE");
    expect(mapped.retryable).toBe(true);
    expect(mapped.message).toContain("ECONNREFUSED");
  });

  it("maps socket errors nested in an AggregateError", () => {
    const inner = Object.assign(new Error("x"), { code: "ECONNRESET" });
    const agg = new AggregateError([inner], "all failed");
    expect(toK8sStoreError(new TypeError("fetch failed", { cause: agg }), "op").code).toBe("K8S_UNAVAILABLE");
  });

  it("maps a bare 'fetch failed' and timeouts to K8S_UNAVAILABLE", () => {
    expect(toK8sStoreError(new TypeError("fetch failed"), "op").code).toBe("K8S_UNAVAILABLE");
    expect(toK8sStoreError(new DOMException("The operation was aborted due to timeout", "TimeoutError"), "op").code).toBe("K8S_UNAVAILABLE");
    expect(toK8sStoreError(new DOMException("aborted", "AbortError"), "op").code).toBe("K8S_UNAVAILABLE");
  });

  it("maps a watch's non-200 answer (Error with statusCode)", () => {
    const err = Object.assign(new Error("Forbidden"), { statusCode: 403 });
    expect(toK8sStoreError(err, "watch secrets").code).toBe("K8S_FORBIDDEN");
  });

  it("keeps a K8sStoreError as it is", () => {
    const e = new K8sStoreError("K8S_CONFLICT", "x");
    expect(toK8sStoreError(e, "op")).toBe(e);
  });

  it("wraps anything else as K8S_UNEXPECTED, not retryable", () => {
    const mapped = toK8sStoreError("a string", "op");
    expect(mapped.code).toBe("K8S_UNEXPECTED");
    expect(mapped.retryable).toBe(false);
  });

  it("never puts the request body into the message (only the server's Status message)", () => {
    // A Secret create that fails: client-node's ApiException.message embeds the response body and headers;
    // our message is built from the Status message only.
    const err = new ApiException(422, "Unknown API Status Code!", status(422, "Invalid", 'Secret "x" is invalid: metadata.name: Invalid value'), { "x-secret": "s3cr3t" });
    const mapped = toK8sStoreError(err, "create secrets kyma-system/x");
    expect(mapped.message).not.toContain("s3cr3t");
    expect(mapped.message).not.toContain("HTTP-Code");
  });

  it("truncates very long server messages", () => {
    const mapped = toK8sStoreError(new ApiException(500, "x", status(500, "InternalError", "y".repeat(5000)), {}), "op");
    expect(mapped.message.length).toBeLessThan(600);
  });

  it("never throws and always yields a code for arbitrary bodies and status codes (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), fc.oneof(fc.string(), fc.json(), fc.constant(undefined)), (code, body) => {
        const mapped = toK8sStoreError(new ApiException(code, "m", body, {}), "op");
        expect(mapped).toBeInstanceOf(K8sStoreError);
        expect(mapped.code).toMatch(/^K8S_/);
        expect(mapped.message.startsWith("op: ")).toBe(true);
      }),
    );
  });
});

describe("parseStatusBody", () => {
  it("parses a JSON string, tolerates non-JSON and empty bodies", () => {
    expect(parseStatusBody(status(404, "NotFound", "gone"))).toEqual({ code: 404, reason: "NotFound", message: "gone" });
    expect(parseStatusBody("<html>bad gateway</html>")).toEqual({ message: "<html>bad gateway</html>" });
    expect(parseStatusBody("")).toBeUndefined();
    expect(parseStatusBody(undefined)).toBeUndefined();
    expect(parseStatusBody(42)).toBeUndefined();
  });
});

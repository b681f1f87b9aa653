import { describe, expect, test } from "vitest";
import { redactText } from "../observability/redact.js";
import { ConfigError } from "./load.js";
import { compassProxyFromEnvironment, describeCompassProxy } from "./proxy.js";

describe("the proxy from the environment, as Go's http.ProxyFromEnvironment reads it", () => {
  test("no proxy variable: direct (NO_PROXY alone changes nothing)", () => {
    expect(compassProxyFromEnvironment({})).toBeUndefined();
    expect(compassProxyFromEnvironment({ NO_PROXY: "*", HTTPS_PROXY: "", https_proxy: "" })).toBeUndefined();
  });

  test("upper case wins; lower case is read when upper case is unset or empty", () => {
    expect(compassProxyFromEnvironment({ HTTPS_PROXY: "http://upper:1", https_proxy: "http://lower:1" })?.httpsProxy).toBe("http://upper:1");
    expect(compassProxyFromEnvironment({ HTTPS_PROXY: "", https_proxy: "http://lower:1" })?.httpsProxy).toBe("http://lower:1");
    expect(compassProxyFromEnvironment({ http_proxy: "http://lower:2", no_proxy: ".svc", NO_PROXY: "" })).toEqual({
      httpsProxy: undefined,
      httpProxy: "http://lower:2",
      noProxy: ".svc",
    });
    expect(compassProxyFromEnvironment({ HTTPS_PROXY: "proxy:3128", NO_PROXY: "a,b", no_proxy: "c" })).toEqual({
      httpsProxy: "proxy:3128",
      httpProxy: undefined,
      noProxy: "a,b",
    });
  });

  test("an invalid proxy URL is a configuration error naming the variable, never the credentials", () => {
    const error = (() => {
      try {
        compassProxyFromEnvironment({ HTTPS_PROXY: "socks5://user:s3cret@proxy:1080" });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual(["HTTPS_PROXY: socks5://proxy:1080 is not supported: only http:// and https:// proxies are"]);
    expect(() => compassProxyFromEnvironment({ http_proxy: "http://u:s3cret@[::1" })).toThrow(/^invalid configuration:\n {2}HTTP_PROXY: /);
    expect(() => compassProxyFromEnvironment({ http_proxy: "http://u:s3cret@[::1" })).not.toThrow(/s3cret/);
  });

  test("the start-up line shows the proxies without credentials", () => {
    expect(describeCompassProxy(undefined)).toEqual({});
    expect(describeCompassProxy({ httpsProxy: "http://agent:s3cret@proxy.corp:3128", noProxy: ".svc,10.0.0.0/8" })).toEqual({
      HTTPS_PROXY: "http://proxy.corp:3128",
      NO_PROXY: ".svc,10.0.0.0/8",
    });
    expect(describeCompassProxy({ httpProxy: "agent:s3cret@proxy.corp:3128" })).toEqual({ HTTP_PROXY: "http://proxy.corp:3128" });
  });

  test("the logger's last line of defence cuts credentials out of any URL", () => {
    expect(redactText("cannot use http://agent:s3cret@proxy.corp:3128 or HTTPS://u:p@h/x")).toBe("cannot use http://[REDACTED]@proxy.corp:3128 or HTTPS://[REDACTED]@h/x");
    expect(redactText("https://compass.example.com/connector/graphql?a=b@c")).toBe("https://compass.example.com/connector/graphql?a=b@c");
  });
});

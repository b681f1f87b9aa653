// Which proxy a Compass URL goes through: Go's httpproxy rules (golang.org/x/net/http/httpproxy), case by case.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { describeProxyUrl, proxySelector } from "./proxy.js";
import type { ProxyConfig } from "./proxy.js";

/** The proxy `config` chooses for `target`, or undefined when it is reached directly. */
function proxyFor(config: ProxyConfig, target: string): URL | undefined {
  const url = new URL(target);
  return proxySelector(config).select(url.protocol, url.hostname, url.port);
}

const PROXY = "http://proxy.corp:3128";
const via = (noProxy: string, target: string) => proxyFor({ httpsProxy: PROXY, noProxy }, target)?.href;

describe("which proxy", () => {
  test("https:// URLs use httpsProxy, http:// URLs httpProxy; neither falls back to the other (as Go)", () => {
    expect(proxyFor({ httpsProxy: PROXY }, "https://compass.example.com/connector/graphql")?.href).toBe("http://proxy.corp:3128/");
    expect(proxyFor({ httpsProxy: PROXY }, "http://compass.example.com/")).toBeUndefined();
    expect(proxyFor({ httpProxy: PROXY }, "https://compass.example.com/")).toBeUndefined();
    expect(proxyFor({ httpProxy: "http://other:8080" }, "http://compass.example.com/")?.href).toBe("http://other:8080/");
    expect(proxyFor({}, "https://compass.example.com/")).toBeUndefined();
    expect(proxyFor({ httpsProxy: "" }, "https://compass.example.com/")).toBeUndefined();
  });

  test("a proxy without a scheme is http:// (as Go); https:// proxies are kept; other schemes are refused", () => {
    expect(proxyFor({ httpsProxy: "proxy.corp:3128" }, "https://c.example.com/")?.href).toBe("http://proxy.corp:3128/");
    expect(proxyFor({ httpsProxy: "10.0.0.1:3128" }, "https://c.example.com/")?.href).toBe("http://10.0.0.1:3128/");
    expect(proxyFor({ httpsProxy: "https://proxy.corp" }, "https://c.example.com/")?.href).toBe("https://proxy.corp/");
    expect(() => proxySelector({ httpsProxy: "socks5://proxy.corp:1080" })).toThrow(/httpsProxy: socks5:\/\/proxy\.corp:1080 is not supported/);
    expect(() => proxySelector({ httpProxy: "http://[::1" })).toThrow(RangeError);
  });

  test("localhost and loopback addresses are always direct (as Go), other hosts are proxied", () => {
    for (const target of ["https://localhost:8443/", "https://127.0.0.1/", "https://127.9.9.9:1/", "https://[::1]/", "https://[::ffff:127.0.0.1]/"]) {
      expect(via("", target), target).toBeUndefined();
    }
    expect(via("", "https://compass.example.com/")).toBe("http://proxy.corp:3128/");
    expect(via("", "https://10.1.2.3/")).toBe("http://proxy.corp:3128/");
  });

  test.each([
    // NO_PROXY, target, direct?
    ["*", "https://compass.example.com/", true],
    [" a.org , * ", "https://compass.example.com/", true],
    ["example.com", "https://example.com/", true],
    ["example.com", "https://compass.example.com/", true],
    ["example.com", "https://notexample.com/", false],
    [".example.com", "https://example.com/", false],
    [".example.com", "https://compass.example.com/", true],
    ["*.example.com", "https://example.com/", false],
    ["*.example.com", "https://a.b.example.com/", true],
    ["EXAMPLE.com", "https://Compass.Example.COM/", true],
    ["example.com:8443", "https://example.com:8443/", true],
    ["example.com:8443", "https://example.com/", false],
    ["a.org,,example.com", "https://example.com/", true],
    ["other.org", "https://example.com/", false],
    ["10.1.2.3", "https://10.1.2.3/", true],
    ["10.1.2.3", "https://10.1.2.4/", false],
    ["10.1.2.3:443", "https://10.1.2.3/", true],
    ["10.1.2.3:8443", "https://10.1.2.3/", false],
    ["10.0.0.0/8", "https://10.200.0.1/", true],
    ["10.0.0.0/8", "https://11.0.0.1/", false],
    ["10.0.0.0/8", "https://ten.example.com/", false],
    ["2001:db8::/32", "https://[2001:db8::1]/", true],
    ["2001:db8::/32", "https://[2001:db9::1]/", false],
    ["[2001:db8::5]:443", "https://[2001:db8::5]/", true],
    ["2001:db8::5", "https://[2001:db8:0::5]/", true],
    ["bücher.de", "https://shop.bücher.de/", true],
  ])("NO_PROXY %j, %s: direct %s", (noProxy, target, direct) => {
    expect(via(noProxy, target)).toBe(direct ? undefined : "http://proxy.corp:3128/");
  });

  test("property: a host listed in NO_PROXY, and every subdomain of it, is reached directly; other hosts are not", () => {
    const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/);
    fc.assert(
      fc.property(fc.array(label, { minLength: 2, maxLength: 4 }), label, label, (domain, sub, other) => {
        const host = domain.join(".");
        fc.pre(!host.endsWith(`.${other}.test`) && host !== `${other}.test`);
        expect(via(`${other}.test, ${host}`, `https://${host}/`)).toBeUndefined();
        expect(via(host, `https://${sub}.${host}:8443/`)).toBeUndefined();
        expect(via(host, `https://${other}.test/`)).toBe("http://proxy.corp:3128/");
      }),
    );
  });
});

describe("credentials never shown", () => {
  test("describeProxyUrl keeps scheme, host and port only", () => {
    expect(describeProxyUrl("http://user:s3cret@proxy.corp:3128")).toBe("http://proxy.corp:3128");
    expect(describeProxyUrl("user:s3cret@proxy.corp:3128")).toBe("http://proxy.corp:3128");
    expect(describeProxyUrl(new URL("https://u:p@proxy.corp/"))).toBe("https://proxy.corp");
    expect(describeProxyUrl("http://user:s3cret@[bad")).not.toContain("s3cret");
  });

  test("property: a refused proxy URL's error message does not contain its password", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9]{6,20}$/), fc.constantFrom("socks5", "ftp", "http"), (password, scheme) => {
        const value = scheme === "http" ? `http://user:${password}@[broken` : `${scheme}://user:${password}@proxy.corp:1080`;
        let message = "";
        try {
          proxySelector({ httpsProxy: value });
        } catch (error) {
          message = (error as Error).message;
        }
        expect(message).not.toBe("");
        expect(message).not.toContain(password);
      }),
    );
  });
});

import { describeProxyUrl, proxySelector } from "@runtime-agent/connector-client";
import type { ProxyConfig } from "@runtime-agent/connector-client";
import { ConfigError } from "./load.js";

/**
 * The proxy for Compass calls, read from the environment as Go's `http.ProxyFromEnvironment` reads it (Kyma's Go
 * agent reaches Compass that way): HTTPS_PROXY (or https_proxy) for https:// URLs, HTTP_PROXY (or http_proxy) for
 * http:// URLs, NO_PROXY (or no_proxy) for the hosts reached directly; the upper-case name wins, an empty value
 * counts as unset. Undefined when no proxy is set. Throws a ConfigError (whose message never holds the proxy's
 * credentials) for a proxy URL that does not parse or is not http:// or https://.
 */
export function compassProxyFromEnvironment(env: NodeJS.ProcessEnv): ProxyConfig | undefined {
  const any = (...names: string[]) => names.map((name) => env[name]).find((value) => value !== undefined && value !== "");
  const config: ProxyConfig = {
    httpsProxy: any("HTTPS_PROXY", "https_proxy"),
    httpProxy: any("HTTP_PROXY", "http_proxy"),
    noProxy: any("NO_PROXY", "no_proxy"),
  };
  if (config.httpsProxy === undefined && config.httpProxy === undefined) return undefined;
  try {
    proxySelector(config);
  } catch (error) {
    const message = (error as Error).message.replace(/^httpsProxy/, "HTTPS_PROXY").replace(/^httpProxy/, "HTTP_PROXY");
    throw new ConfigError([message]);
  }
  return config;
}

/** The proxy settings for the start-up log line: URLs without credentials. */
export function describeCompassProxy(config: ProxyConfig | undefined): Record<string, string> {
  if (config === undefined) return {};
  const out: Record<string, string> = {};
  const selector = proxySelector(config);
  if (selector.httpsProxy) out["HTTPS_PROXY"] = describeProxyUrl(selector.httpsProxy);
  if (selector.httpProxy) out["HTTP_PROXY"] = describeProxyUrl(selector.httpProxy);
  if (config.noProxy) out["NO_PROXY"] = config.noProxy;
  return out;
}

// HTTP over TLS that trusts exactly one CA: Shonin's development CA.
//
// Certificate checks are never switched off. The undici Agent gets the dev CA as its only trust
// anchor (`connect.ca` replaces Node's default bundle), and the server certificate is checked
// against the host name (`localhost`) as usual (RFC 9525).

import dns from 'node:dns';
import { Agent, fetch as undiciFetch, request as undiciRequest } from 'undici';

/**
 * An undici Agent trusting only `caPem`. `localhost` is resolved to IPv4 only, because the server
 * listens on 127.0.0.1 and some machines resolve `localhost` to ::1 first.
 */
export function makeAgent(caPem, { cert, key } = {}) {
  return new Agent({
    connect: {
      ca: caPem,
      // A TLS client certificate (RFC 8705), when given: PEM certificate and private key.
      ...(cert ? { cert, key } : {}),
      lookup: (hostname, options, callback) => dns.lookup(hostname, { ...options, family: 4 }, callback),
    },
    keepAliveTimeout: 1000,
  });
}

/**
 * A `fetch` for openid-client's and oauth4webapi's `customFetch` option. It records every
 * exchange (method, URL, status, headers and the response body as text) in `log`, so tests can
 * check what the server really sent before a library normalised it (e.g. `token_type: "DPoP"`).
 */
export function makeRecordingFetch(agent, log = []) {
  const customFetch = async (url, options = {}) => {
    const response = await undiciFetch(url, { ...options, dispatcher: agent });
    const entry = {
      method: options.method ?? 'GET',
      url: String(url),
      requestHeaders: headersToObject(options.headers),
      requestBody: options.body === undefined ? undefined : String(options.body),
      status: response.status,
      headers: Object.fromEntries(response.headers.entries()),
      body: undefined,
    };
    log.push(entry);
    try {
      entry.body = await response.clone().text();
    } catch {
      entry.body = '<unreadable>';
    }
    return response;
  };
  customFetch.log = log;
  /** The last recorded exchange whose URL path is `path`. */
  customFetch.last = (path) => [...log].reverse().find((e) => new URL(e.url).pathname === path);
  return customFetch;
}

function headersToObject(h) {
  if (!h) return {};
  if (typeof h.entries === 'function') return Object.fromEntries(h.entries());
  return { ...h };
}

/**
 * A plain HTTP request (no redirects followed), for driving the HTML pages and for negative tests.
 * Returns `{ status, headers, setCookies, text, json() }`; `setCookies` keeps every Set-Cookie
 * header separately.
 */
export async function rawRequest(agent, url, { method = 'GET', headers = {}, body } = {}) {
  const res = await undiciRequest(url, { method, headers, body, dispatcher: agent });
  const text = await res.body.text();
  const setCookie = res.headers['set-cookie'];
  return {
    status: res.statusCode,
    headers: res.headers,
    setCookies: setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie],
    text,
    json() {
      return JSON.parse(text);
    },
  };
}

/** HTTP access to the SigmaVault API: base path from the page location, CSRF on writes, typed errors. */
import { plainError } from "./errors";

/** The API root, e.g. "/api/v1/" or "/nas/api/v1/" behind a reverse proxy. */
export function apiBase(loc: Pick<Location, "href"> = window.location): string {
  const url = new URL(loc.href);
  url.hash = "";
  url.search = "";
  return new URL("api/v1/", url).pathname;
}

/** The WebSocket URL of the event stream, same origin as the page. */
export function wsUrl(loc: Pick<Location, "href"> = window.location): string {
  const url = new URL(loc.href);
  url.hash = "";
  url.search = "";
  const ws = new URL("api/v1/ws", url);
  ws.protocol = ws.protocol === "https:" ? "wss:" : "ws:";
  return ws.toString();
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

let csrfToken: string | null = null;

/** Remember the CSRF token handed out at login (or by /auth/me). */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

function csrfFromCookie(): string | null {
  const m = document.cookie.match(/(?:^|;\s*)sigmavault_csrf=([^;]+)/);
  return m?.[1] ? decodeURIComponent(m[1]) : null;
}

type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  method?: string;
  body?: unknown;
  query?: Query;
  signal?: AbortSignal;
}

/** Listeners told when the server answers 401 (the session ended). */
const unauthorizedListeners = new Set<() => void>();
export function onUnauthorized(fn: () => void): () => void {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

export async function api<T = unknown>(path: string, opts: RequestOptions = {}): Promise<T> {
  const method = (opts.method ?? (opts.body === undefined ? "GET" : "POST")).toUpperCase();
  let url = apiBase() + path.replace(/^\//, "");
  if (opts.query) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query)) if (v !== undefined && v !== null && v !== "") qs.set(k, String(v));
    const s = qs.toString();
    if (s) url += `?${s}`;
  }
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET" && method !== "HEAD") {
    const token = csrfToken ?? csrfFromCookie();
    if (token) headers["X-CSRF-Token"] = token;
  }
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: "same-origin",
      signal: opts.signal,
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "network_error", "cannot reach the SigmaVault daemon");
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!res.ok) {
    const err = (data as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined)?.error;
    if (res.status === 401 && !path.startsWith("auth/login") && !path.startsWith("/auth/login")) {
      unauthorizedListeners.forEach((fn) => fn());
    }
    throw new ApiError(res.status, err?.code ?? "http_error", err?.message ?? `${res.status} ${res.statusText}`, err?.details ?? {});
  }
  return data as T;
}

export const get = <T,>(path: string, query?: Query) => api<T>(path, { query });
export const post = <T,>(path: string, body: unknown = {}) => api<T>(path, { method: "POST", body });
export const put = <T,>(path: string, body: unknown = {}) => api<T>(path, { method: "PUT", body });
export const patch = <T,>(path: string, body: unknown = {}) => api<T>(path, { method: "PATCH", body });
export const del = <T,>(path: string, query?: Query) => api<T>(path, { method: "DELETE", query });

/** A human message for any error thrown by a query or mutation (validation errors in plain words). */
export function errorMessage(e: unknown): string {
  return plainError(e);
}

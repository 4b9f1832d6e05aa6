import { afterEach, describe, expect, it, vi } from "vitest";
import { api, apiBase, ApiError, onUnauthorized, setCsrfToken, wsUrl } from "./api";
import { mockFetch } from "../test/fakes";

afterEach(() => {
  vi.unstubAllGlobals();
  setCsrfToken(null);
});

describe("apiBase / wsUrl", () => {
  it("derive the API root from the page location, also under a sub-path", () => {
    expect(apiBase({ href: "http://nas.local/#/storage" })).toBe("/api/v1/");
    expect(apiBase({ href: "https://example.org/nas/#/agents/WAVE" })).toBe("/nas/api/v1/");
    expect(apiBase({ href: "https://example.org/nas/index.html?x=1#/" })).toBe("/nas/api/v1/");
    expect(wsUrl({ href: "http://nas.local:12080/#/" })).toBe("ws://nas.local:12080/api/v1/ws");
    expect(wsUrl({ href: "https://example.org/nas/#/jobs" })).toBe("wss://example.org/nas/api/v1/ws");
  });
});

describe("api", () => {
  it("sends the CSRF token on writes only, and the query string", async () => {
    const fetch = mockFetch(() => ({ body: { ok: true } }));
    setCsrfToken("tok123");
    await api("jobs", { query: { limit: 5, state: "", kind: undefined } });
    await api("storage/pools", { method: "POST", body: { name: "p" } });
    const [getUrl, getInit] = fetch.mock.calls[0]!;
    const [postUrl, postInit] = fetch.mock.calls[1]!;
    expect(getUrl).toBe("/api/v1/jobs?limit=5");
    expect((getInit as RequestInit).headers).not.toHaveProperty("X-CSRF-Token");
    expect(postUrl).toBe("/api/v1/storage/pools");
    expect((postInit as RequestInit).headers).toMatchObject({ "X-CSRF-Token": "tok123", "Content-Type": "application/json" });
    expect((postInit as RequestInit).body).toBe('{"name":"p"}');
  });

  it("falls back to the readable CSRF cookie", async () => {
    const fetch = mockFetch(() => ({ status: 204 }));
    document.cookie = "sigmavault_csrf=fromcookie";
    await api("auth/logout", { method: "POST" });
    expect((fetch.mock.calls[0]![1] as RequestInit).headers).toMatchObject({ "X-CSRF-Token": "fromcookie" });
  });

  it("turns error envelopes into ApiError and reports a lost session", async () => {
    mockFetch((url) => url.pathname.endsWith("/me")
      ? { status: 401, body: { error: { code: "unauthenticated", message: "sign in", details: {} } } }
      : { status: 409, body: { error: { code: "conflict", message: "pool tank exists", details: { name: "tank" } } } });
    const lost = vi.fn();
    const off = onUnauthorized(lost);
    const err = (await api("storage/pools", { method: "POST", body: {} }).catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect([err.status, err.code, err.message, err.details]).toEqual([409, "conflict", "pool tank exists", { name: "tank" }]);
    expect(lost).not.toHaveBeenCalled();
    await api("auth/me").catch(() => {});
    expect(lost).toHaveBeenCalledOnce();
    off();
  });

  it("names an unreachable daemon", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => { throw new TypeError("Failed to fetch"); }));
    await expect(api("health")).rejects.toMatchObject({ status: 0, code: "network_error" });
  });
});

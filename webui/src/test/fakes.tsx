import type { ReactNode } from "react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { vi } from "vitest";
import { EventSocket } from "../lib/ws";
import { EventSocketProvider } from "../hooks/useWebSocket";

/** A WebSocket stand-in the test drives by hand: open(), emit(), drop(code, reason). */
export class FakeWebSocket {
  static instances: FakeWebSocket[] = [];
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(public url: string) {
    FakeWebSocket.instances.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.readyState = 3;
    this.onclose?.({ code: 1000, reason: "" });
  }
  open(helloSeq = 0) {
    this.readyState = 1;
    this.onopen?.();
    this.emit({ type: "client.hello", seq: helloSeq, ts: null, data: { oldest_seq: 1 } });
  }
  emit(msg: { type: string; seq: number; ts?: string | null; data?: unknown }) {
    this.onmessage?.({ data: JSON.stringify({ ts: null, data: {}, ...msg }) });
  }
  /** The connection ends; `code` and `reason` as the server's close frame gave them. */
  drop(code = 1006, reason = "") {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  static last(): FakeWebSocket {
    return FakeWebSocket.instances[FakeWebSocket.instances.length - 1]!;
  }
}

type Route = (url: URL, init: RequestInit) => { status?: number; body?: unknown } | Promise<{ status?: number; body?: unknown }>;

/** Stub fetch with a routing function; returns the mock to inspect calls. */
export function mockFetch(route: Route) {
  const fn = vi.fn(async (input: string, init: RequestInit = {}) => {
    const url = new URL(input, "http://localhost/");
    const r = await route(url, init);
    const status = r.status ?? 200;
    const text = r.body === undefined ? "" : JSON.stringify(r.body);
    return { ok: status < 400, status, statusText: String(status), text: async () => text };
  });
  vi.stubGlobal("fetch", fn);
  return fn;
}

export function setup() {
  FakeWebSocket.instances = [];
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity }, mutations: { retry: false } } });
  const socket = new EventSocket({ url: "ws://test/api/v1/ws", WebSocketImpl: FakeWebSocket as unknown as new (url: string) => WebSocket, minDelay: 10 });
  const wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={qc}>
      <EventSocketProvider socket={socket}>{children}</EventSocketProvider>
    </QueryClientProvider>
  );
  return { qc, socket, wrapper };
}

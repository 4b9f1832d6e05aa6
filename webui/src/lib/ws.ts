/**
 * One shared WebSocket to /api/v1/ws for the whole app.
 *
 * Components subscribe to event patterns ("system.*"); the socket keeps a reference count per
 * pattern, tells the server about new ones, resumes after a reconnect with `since` = the last seq it
 * saw, and reports a gap (the server no longer holds those events, or it restarted) so the app can
 * refetch its state instead of showing stale data.
 *
 * Close codes it acts on: 4401 (the credential that opened it was revoked, expired or signed out)
 * stops it for good and tells `onAuthChange` listeners, so the app shows the sign-in screen instead
 * of reconnecting in a loop; 4403 (the user's role changed) tells them too, and reconnects.
 */

export interface EventEnvelope<T = unknown> {
  type: string;
  seq: number;
  ts: string | null;
  data: T;
}

export type EventHandler = (event: EventEnvelope<any>) => void;
export type SocketStatus = "idle" | "connecting" | "open" | "closed";
/** Why the server closed the socket over its credential: see the close codes above. */
export type AuthChange = "revoked" | "role";

export const CLOSE_CREDENTIALS_REVOKED = 4401;
export const CLOSE_ROLE_CHANGED = 4403;

interface Subscription {
  patterns: string[];
  handler: EventHandler;
}

/** Glob match as the server does it (fnmatch: `*`, `?`). */
export function matchPattern(pattern: string, type: string): boolean {
  if (pattern === "*" || pattern === type) return true;
  const re = new RegExp(
    "^" + pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$",
  );
  return re.test(type);
}

type WebSocketCtor = new (url: string) => WebSocket;

export interface EventSocketOptions {
  url: string;
  WebSocketImpl?: WebSocketCtor;
  /** first reconnect delay in ms; doubles up to maxDelay */
  minDelay?: number;
  maxDelay?: number;
  pingInterval?: number;
}

export class EventSocket {
  private ws: WebSocket | null = null;
  private subs = new Set<Subscription>();
  private refs = new Map<string, number>();
  private lastSeq: number | null = null;
  private gapListeners = new Set<() => void>();
  private authListeners = new Set<(change: AuthChange) => void>();
  /** the server's client.hello arrived on this connection: subscriptions may be sent */
  private greeted = false;
  private statusListeners = new Set<(s: SocketStatus) => void>();
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private delay: number;
  private running = false;
  status: SocketStatus = "idle";

  constructor(private opts: EventSocketOptions) {
    this.delay = opts.minDelay ?? 500;
  }

  /** Open the connection (idempotent); it reconnects by itself until stop(). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  stop(): void {
    this.running = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.retryTimer = null;
    this.pingTimer = null;
    const ws = this.ws;
    this.ws = null;
    ws?.close();
    this.setStatus("closed");
  }

  /** Receive events matching any of `patterns`; returns the unsubscribe function. */
  subscribe(patterns: string[], handler: EventHandler): () => void {
    const sub: Subscription = { patterns, handler };
    this.subs.add(sub);
    const fresh: string[] = [];
    for (const p of patterns) {
      const n = this.refs.get(p) ?? 0;
      this.refs.set(p, n + 1);
      if (n === 0) fresh.push(p);
    }
    if (fresh.length) this.send({ type: "client.subscribe", events: fresh });
    return () => {
      if (!this.subs.delete(sub)) return;
      const gone: string[] = [];
      for (const p of patterns) {
        const n = (this.refs.get(p) ?? 1) - 1;
        if (n <= 0) {
          this.refs.delete(p);
          gone.push(p);
        } else this.refs.set(p, n);
      }
      if (gone.length) this.send({ type: "client.unsubscribe", events: gone });
    };
  }

  /** Called when the server closed the socket because its credential was revoked or changed. */
  onAuthChange(fn: (change: AuthChange) => void): () => void {
    this.authListeners.add(fn);
    return () => this.authListeners.delete(fn);
  }

  /** Called when events were missed and state must be refetched. */
  onGap(fn: () => void): () => void {
    this.gapListeners.add(fn);
    return () => this.gapListeners.delete(fn);
  }

  onStatus(fn: (s: SocketStatus) => void): () => void {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  }

  get patterns(): string[] {
    return [...this.refs.keys()];
  }

  get seq(): number | null {
    return this.lastSeq;
  }

  private setStatus(s: SocketStatus): void {
    this.status = s;
    this.statusListeners.forEach((fn) => fn(s));
  }

  /** Subscriptions wait for client.hello, which (re)subscribes every pattern at once. */
  private send(msg: unknown): void {
    if (this.ws && this.ws.readyState === 1 && this.greeted) this.ws.send(JSON.stringify(msg));
  }

  /** Subscribe to every pattern in use, resuming after `since` when given. */
  private resubscribe(since: number | null): void {
    const events = this.patterns;
    if (!events.length) return;
    const msg: Record<string, unknown> = { type: "client.subscribe", events };
    if (since !== null) msg.since = since;
    this.send(msg);
  }

  private connect(): void {
    const Impl = this.opts.WebSocketImpl ?? WebSocket;
    this.setStatus("connecting");
    const ws = new Impl(this.opts.url);
    this.ws = ws;
    this.greeted = false;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.delay = this.opts.minDelay ?? 500;
      this.setStatus("open");
      this.pingTimer = setInterval(() => this.send({ type: "ping" }), this.opts.pingInterval ?? 25000);
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (this.ws !== ws) return;
      let msg: EventEnvelope;
      try {
        msg = JSON.parse(String(ev.data)) as EventEnvelope;
      } catch {
        return;
      }
      this.handle(msg);
    };
    ws.onclose = (ev?: { code?: number }) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.pingTimer) clearInterval(this.pingTimer);
      this.pingTimer = null;
      const change = authChange(ev?.code);
      if (change === "revoked") this.running = false;
      this.setStatus("closed");
      if (change) this.authListeners.forEach((fn) => fn(change));
      if (!this.running) return;
      this.retryTimer = setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, this.opts.maxDelay ?? 10000);
    };
    ws.onerror = () => {
      /* onclose follows and schedules the retry */
    };
  }

  private handle(msg: EventEnvelope): void {
    switch (msg.type) {
      case "client.hello": {
        // First connection: events from now on. A reconnect resumes after the last seq seen,
        // unless the server's seq is behind it: the server restarted, so refetch instead.
        this.greeted = true;
        const resume = this.lastSeq !== null && this.patterns.length > 0;
        if (resume && msg.seq >= this.lastSeq!) return this.resubscribe(this.lastSeq);
        const restarted = resume && msg.seq < this.lastSeq!;
        this.lastSeq = msg.seq;
        this.resubscribe(null);
        if (restarted) this.gapListeners.forEach((fn) => fn());
        return;
      }
      case "client.gap":
        this.lastSeq = msg.seq;
        this.gapListeners.forEach((fn) => fn());
        return;
      case "client.subscribed":
      case "client.error":
      case "pong":
        return;
    }
    if (typeof msg.seq === "number") {
      if (this.lastSeq !== null && msg.seq <= this.lastSeq) return; // duplicate from a replay
      this.lastSeq = msg.seq;
    }
    for (const sub of [...this.subs]) {
      if (sub.patterns.some((p) => matchPattern(p, msg.type))) {
        try {
          sub.handler(msg);
        } catch (e) {
          console.error("event handler failed", e);
        }
      }
    }
  }
}

function authChange(code: number | undefined): AuthChange | null {
  if (code === CLOSE_CREDENTIALS_REVOKED) return "revoked";
  if (code === CLOSE_ROLE_CHANGED) return "role";
  return null;
}

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EventSocket, matchPattern } from "./ws";
import { FakeWebSocket } from "../test/fakes";

function make() {
  FakeWebSocket.instances = [];
  return new EventSocket({ url: "ws://x/api/v1/ws", WebSocketImpl: FakeWebSocket as unknown as new (u: string) => WebSocket, minDelay: 10, maxDelay: 40 });
}

describe("matchPattern", () => {
  it("matches globs like the server's fnmatch", () => {
    expect(matchPattern("system.*", "system.metrics")).toBe(true);
    expect(matchPattern("system.*", "storage.event")).toBe(false);
    expect(matchPattern("*", "anything")).toBe(true);
    expect(matchPattern("job.progress", "job.progress")).toBe(true);
    expect(matchPattern("job.progress", "job.progressx")).toBe(false);
    expect(matchPattern("a.b", "aXb")).toBe(false);
  });
});

describe("EventSocket", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("subscribes once per pattern and unsubscribes when the last user leaves", () => {
    const s = make();
    s.start();
    const ws = FakeWebSocket.last();
    ws.open(5);
    const off1 = s.subscribe(["system.*"], () => {});
    const off2 = s.subscribe(["system.*", "job.progress"], () => {});
    expect(ws.sent).toEqual([
      { type: "client.subscribe", events: ["system.*"] },
      { type: "client.subscribe", events: ["job.progress"] },
    ]);
    off1();
    expect(ws.sent).toHaveLength(2);
    off2();
    expect(ws.sent[2]).toEqual({ type: "client.unsubscribe", events: ["system.*", "job.progress"] });
    s.stop();
  });

  it("delivers matching events only, and drops replayed duplicates", () => {
    const s = make();
    const got: number[] = [];
    s.subscribe(["storage.*"], (e) => got.push(e.seq));
    s.start();
    const ws = FakeWebSocket.last();
    ws.open(10);
    ws.emit({ type: "storage.event", seq: 11 });
    ws.emit({ type: "system.metrics", seq: 12 });
    ws.emit({ type: "storage.event", seq: 13 });
    ws.emit({ type: "storage.event", seq: 13 });
    expect(got).toEqual([11, 13]);
    s.stop();
  });

  it("resumes after a reconnect with since = the last seq seen", async () => {
    const s = make();
    const got: number[] = [];
    s.subscribe(["job.*"], (e) => got.push(e.seq));
    s.start();
    const first = FakeWebSocket.last();
    first.open(3);
    expect(first.sent[0]).toEqual({ type: "client.subscribe", events: ["job.*"] });
    first.emit({ type: "job.progress", seq: 4 });
    first.drop();
    expect(s.status).toBe("closed");
    await vi.advanceTimersByTimeAsync(15);
    const second = FakeWebSocket.last();
    expect(second).not.toBe(first);
    second.open(9);
    expect(second.sent[0]).toEqual({ type: "client.subscribe", events: ["job.*"], since: 4 });
    second.emit({ type: "job.progress", seq: 5 });
    expect(got).toEqual([4, 5]);
    s.stop();
  });

  it("reports a gap so the app refetches", () => {
    const s = make();
    const gap = vi.fn();
    s.onGap(gap);
    s.subscribe(["*"], () => {});
    s.start();
    const ws = FakeWebSocket.last();
    ws.open(1);
    ws.emit({ type: "client.gap", seq: 2000, data: { since: 1 } });
    expect(gap).toHaveBeenCalledOnce();
    expect(s.seq).toBe(2000);
    s.stop();
  });

  it("stops for good on 4401 and reports the credential as revoked", async () => {
    const s = make();
    const changes: string[] = [];
    s.onAuthChange((c) => changes.push(c));
    s.subscribe(["*"], () => {});
    s.start();
    FakeWebSocket.last().open(1);
    FakeWebSocket.last().drop(4401, "credentials revoked: API key revoked or expired");
    expect(changes).toEqual(["revoked"]);
    expect(s.status).toBe("closed");
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it("reports a role change on 4403 and reconnects, resuming", async () => {
    const s = make();
    const changes: string[] = [];
    s.onAuthChange((c) => changes.push(c));
    s.subscribe(["job.*"], () => {});
    s.start();
    const first = FakeWebSocket.last();
    first.open(3);
    first.emit({ type: "job.progress", seq: 4 });
    first.drop(4403, "role changed to readonly: reconnect");
    expect(changes).toEqual(["role"]);
    await vi.advanceTimersByTimeAsync(10);
    const second = FakeWebSocket.last();
    expect(second).not.toBe(first);
    second.open(4);
    expect(second.sent[0]).toEqual({ type: "client.subscribe", events: ["job.*"], since: 4 });
    s.stop();
  });

  it("refetches instead of resuming when the server's seq is behind the last one seen", async () => {
    const s = make();
    const gap = vi.fn();
    s.onGap(gap);
    s.subscribe(["job.*"], () => {});
    s.start();
    const first = FakeWebSocket.last();
    first.open(3);
    first.emit({ type: "job.progress", seq: 40 });
    first.drop();
    await vi.advanceTimersByTimeAsync(15);
    const second = FakeWebSocket.last();
    second.open(2); // the server restarted: its seq began again
    expect(second.sent[0]).toEqual({ type: "client.subscribe", events: ["job.*"] });
    expect(gap).toHaveBeenCalledOnce();
    expect(s.seq).toBe(2);
    s.stop();
  });

  it("sends subscriptions only once the server said hello", () => {
    const s = make();
    s.start();
    const ws = FakeWebSocket.last();
    ws.readyState = 1;
    ws.onopen?.();
    s.subscribe(["system.*"], () => {});
    expect(ws.sent).toEqual([]);
    ws.emit({ type: "client.hello", seq: 7 });
    expect(ws.sent).toEqual([{ type: "client.subscribe", events: ["system.*"] }]);
    s.stop();
  });

  it("backs off between reconnects and stops for good on stop()", async () => {
    const s = make();
    s.start();
    FakeWebSocket.last().drop();
    await vi.advanceTimersByTimeAsync(10);
    expect(FakeWebSocket.instances).toHaveLength(2);
    FakeWebSocket.last().drop();
    await vi.advanceTimersByTimeAsync(10);
    expect(FakeWebSocket.instances).toHaveLength(2); // second delay is 20 ms
    await vi.advanceTimersByTimeAsync(10);
    expect(FakeWebSocket.instances).toHaveLength(3);
    s.stop();
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeWebSocket.instances).toHaveLength(3);
  });
});

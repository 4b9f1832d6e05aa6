import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { EventSocket, type EventHandler, type SocketStatus } from "../lib/ws";
import { wsUrl } from "../lib/api";

const SocketContext = createContext<EventSocket | null>(null);

/** Provides the app's single event socket; a gap in the stream refetches every active query, and
 * a close over the credential re-reads who is signed in. */
export function EventSocketProvider({ children, socket, enabled = true }: { children: ReactNode; socket?: EventSocket; enabled?: boolean }) {
  const qc = useQueryClient();
  const [sock] = useState(() => socket ?? new EventSocket({ url: wsUrl() }));
  useEffect(() => {
    if (!enabled) return;
    sock.start();
    const off = sock.onGap(() => void qc.invalidateQueries({ type: "active" }));
    // revoked: /auth/me answers 401 and the app shows the sign-in screen; role: the new role
    const offAuth = sock.onAuthChange(() => void qc.invalidateQueries({ queryKey: ["auth", "me"] }));
    return () => {
      off();
      offAuth();
      sock.stop();
    };
  }, [sock, qc, enabled]);
  return <SocketContext.Provider value={sock}>{children}</SocketContext.Provider>;
}

export function useSocket(): EventSocket {
  const s = useContext(SocketContext);
  if (!s) throw new Error("useSocket outside EventSocketProvider");
  return s;
}

/**
 * Subscribe this component to event patterns for as long as it is mounted. The handler may change
 * between renders without resubscribing.
 */
export function useWebSocket(patterns: string[], handler: EventHandler, enabled = true): void {
  const sock = useContext(SocketContext);
  const ref = useRef(handler);
  ref.current = handler;
  const key = patterns.join("|");
  useEffect(() => {
    if (!sock || !enabled) return;
    return sock.subscribe(key.split("|"), (e) => ref.current(e));
  }, [sock, key, enabled]);
}

/** The socket's connection state, for the status indicator. */
export function useSocketStatus(): SocketStatus {
  const sock = useContext(SocketContext);
  const [status, setStatus] = useState<SocketStatus>(sock?.status ?? "idle");
  useEffect(() => {
    if (!sock) return;
    setStatus(sock.status);
    return sock.onStatus(setStatus);
  }, [sock]);
  return status;
}

/**
 * True while the event stream, once open, has been down for more than `graceMs` (the data on
 * screen may be stale). When it comes back every active query is refetched.
 */
export function useConnectionLost(graceMs = 1500): boolean {
  const status = useSocketStatus();
  const qc = useQueryClient();
  const [lost, setLost] = useState(false);
  const wasOpen = useRef(false);
  useEffect(() => {
    if (status === "open") {
      if (lost) void qc.invalidateQueries({ type: "active" });
      wasOpen.current = true;
      setLost(false);
      return;
    }
    if (!wasOpen.current) return;
    const t = setTimeout(() => setLost(true), graceMs);
    return () => clearTimeout(t);
  }, [status, graceMs, lost, qc]);
  return lost;
}

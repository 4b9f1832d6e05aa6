import { useEffect, useRef, useState } from "react";
import { useCapabilities } from "../hooks/useCapabilities";
import { useAck, useAckAll, useNotificationEvents, useNotifications, type Notification } from "../hooks/useNotifications";
import { errorMessage } from "../lib/api";
import { ago, when } from "../lib/format";
import { Badge, Loading } from "./ui";

function BellIcon() {
  return (
    <svg width="15" height="15" viewBox="0 0 24 24" aria-hidden="true" style={{ verticalAlign: "-2px" }} fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round">
      <path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
      <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
    </svg>
  );
}

/** One notification: severity (or "resolved"), source, message, when, and "Mark read". */
export function NotificationLine({ n, onAck }: { n: Notification; onAck?: () => void }) {
  return (
    <div className="notification" data-unread={!n.acked} style={{ display: "flex", gap: 8, alignItems: "baseline", opacity: n.acked ? 0.7 : 1 }}>
      <Badge value={n.kind === "resolved" ? "resolved" : n.severity} />
      <span style={{ flex: 1 }}>
        {!n.acked && <strong aria-label="unread">• </strong>}
        <span className="muted">{n.source}</span> {n.message}
        {n.repeats > 0 && <span className="muted"> (×{n.repeats + 1})</span>}
        <br />
        <small className="muted" title={when(n.updated)}>{ago(n.updated)} · <code>{n.alert_id}</code>{n.resolved_at && n.kind === "alert" ? " · cleared" : ""}</small>
      </span>
      {onAck && !n.acked && <button type="button" className="btn small" onClick={onAck} aria-label={`Mark read: “${n.message}”`}>Mark read</button>}
    </div>
  );
}

/** How many notifications the bell's panel shows. */
export const BELL_LIMIT = 8;

/**
 * The bell in the top bar: the notification centre's unread count, live from the `notification`
 * event, and a panel with the latest notifications to acknowledge. Shown only when the daemon
 * serves `/notifications` (the sigmavault-notifications plugin). The panel links to the
 * Notifications page (`pageHref`, the `#/notifications` route by default).
 */
export function NotificationCentre({ pageHref = "#/notifications" }: { pageHref?: string }) {
  const caps = useCapabilities();
  const available = caps.has("/notifications");
  useNotificationEvents(available);
  const q = useNotifications({ limit: BELL_LIMIT }, available);
  const ack = useAck();
  const ackAll = useAckAll();
  const [open, setOpen] = useState(false);
  const box = useRef<HTMLSpanElement>(null);
  useEffect(() => {
    if (!open) return;
    const away = (e: MouseEvent) => { if (!box.current?.contains(e.target as Node)) setOpen(false); };
    const esc = (e: KeyboardEvent) => { if (e.key === "Escape") setOpen(false); };
    document.addEventListener("mousedown", away);
    document.addEventListener("keydown", esc);
    return () => { document.removeEventListener("mousedown", away); document.removeEventListener("keydown", esc); };
  }, [open]);
  if (!available) return null;
  const unread = q.data?.unread ?? 0;
  const newest = q.data?.items[0]?.id;
  return (
    <span ref={box} style={{ position: "relative" }} data-testid="notification-centre">
      <button type="button" className="btn small" aria-haspopup="true" aria-expanded={open} onClick={() => setOpen((o) => !o)}
        aria-label={unread ? `notifications: ${unread} unread` : "notifications: none unread"}>
        <BellIcon />{unread > 0 && <span className="badge bad" data-testid="unread-count" style={{ marginLeft: 4 }}>{unread > 99 ? "99+" : unread}</span>}
      </button>
      {open && (
        <div role="dialog" aria-label="Notifications" style={{ position: "absolute", right: 0, top: "calc(100% + 6px)", width: "min(420px, 92vw)", zIndex: 50, background: "var(--panel)", border: "1px solid var(--border)", borderRadius: 10, padding: 12, boxShadow: "0 8px 24px rgba(0,0,0,.35)" }}>
          <div className="inline" style={{ justifyContent: "space-between", marginTop: 0 }}>
            <strong>Notifications</strong>
            <button type="button" className="btn small" disabled={!unread || ackAll.isPending} onClick={() => ackAll.mutate(newest)}>Mark all read</button>
          </div>
          {q.error ? <p className="form-error">{errorMessage(q.error)}</p> : q.isLoading ? <Loading /> : (
            (q.data?.items.length ?? 0) === 0 ? <p className="muted">No notifications.</p> : (
              <ul className="plain" style={{ maxHeight: 360, overflowY: "auto" }}>
                {q.data!.items.map((n) => <li key={n.id} style={{ padding: "6px 0", borderBottom: "1px solid var(--border)" }}><NotificationLine n={n} onAck={() => ack.mutate(n.id)} /></li>)}
              </ul>
            )
          )}
          <div style={{ marginTop: 8 }}>
            <a href={pageHref} onClick={() => setOpen(false)}>All notifications, channels and rules →</a>
          </div>
        </div>
      )}
    </span>
  );
}


import { lazy, Suspense, useEffect, useRef, useState } from "react";
import { useCapabilities } from "../hooks/useCapabilities";
import { useAck, useAckAll, useNotificationEvents, useNotifications } from "../hooks/useNotifications";
import { errorMessage } from "../lib/api";
import { Loading, Modal } from "./ui";

const Notifications = lazy(() => import("../pages/Notifications"));
const NotificationLine = lazy(() => import("../pages/Notifications").then((m) => ({ default: m.NotificationLine })));

/** How many notifications the bell's panel shows. */
export const BELL_LIMIT = 8;

/**
 * The bell in the top bar: the notification centre's unread count, live from the `notification`
 * event, and a panel with the latest notifications to acknowledge. Shown only when the daemon
 * serves `/notifications` (the sigmavault-notifications plugin). With `pageHref` the panel links
 * to the Notifications page; without, it opens the page in a dialog.
 */
export function NotificationCentre({ pageHref }: { pageHref?: string }) {
  const caps = useCapabilities();
  const available = caps.has("/notifications");
  useNotificationEvents(available);
  const q = useNotifications({ limit: BELL_LIMIT }, available);
  const ack = useAck();
  const ackAll = useAckAll();
  const [open, setOpen] = useState(false);
  const [page, setPage] = useState(false);
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
        🔔{unread > 0 && <span className="badge bad" data-testid="unread-count" style={{ marginLeft: 4 }}>{unread > 99 ? "99+" : unread}</span>}
      </button>
      {open && (
        <div role="dialog" aria-label="Notifications" style={{ position: "absolute", right: 0, top: "calc(100% + 6px)", width: "min(420px, 92vw)", zIndex: 50, background: "var(--panel)", border: "1px solid var(--border)", borderRadius: 10, padding: 12, boxShadow: "0 8px 24px rgba(0,0,0,.35)" }}>
          <div className="inline" style={{ justifyContent: "space-between", marginTop: 0 }}>
            <strong>Notifications</strong>
            <button type="button" className="btn small" disabled={!unread || ackAll.isPending} onClick={() => ackAll.mutate(newest)}>Mark all read</button>
          </div>
          {q.error ? <p className="form-error">{errorMessage(q.error)}</p> : (
            <Suspense fallback={<Loading />}>
              {(q.data?.items.length ?? 0) === 0 ? <p className="muted">No notifications.</p> : (
                <ul className="plain" style={{ maxHeight: 360, overflowY: "auto" }}>
                  {q.data!.items.map((n) => <li key={n.id} style={{ padding: "6px 0", borderBottom: "1px solid var(--border)" }}><NotificationLine n={n} onAck={() => ack.mutate(n.id)} /></li>)}
                </ul>
              )}
            </Suspense>
          )}
          <div style={{ marginTop: 8 }}>
            {pageHref ? <a href={pageHref} onClick={() => setOpen(false)}>All notifications, channels and rules →</a>
              : <button type="button" className="btn small" onClick={() => { setOpen(false); setPage(true); }}>All notifications, channels and rules…</button>}
          </div>
        </div>
      )}
      {!pageHref && (
        <Modal open={page} title="Notifications" onClose={() => setPage(false)}>
          {page && (
            <Suspense fallback={<Loading />}>
              <Notifications />
              <div className="modal-actions"><button type="button" className="btn" onClick={() => setPage(false)}>Close</button></div>
            </Suspense>
          )}
        </Modal>
      )}
    </span>
  );
}

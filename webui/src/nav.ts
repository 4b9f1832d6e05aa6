/** The UI's own pages: shown when the daemon serves the API they need. */
export interface NavItem {
  id: string;
  title: string;
  path: string;
  /** any of these API paths must exist (relative to /api/v1); empty = always */
  needs: string[];
  section: "main" | "admin";
  admin?: boolean;
  icon: string;
  /** plugin pages under this path are sections of this page, not pages of their own */
  covers?: boolean;
  /** plugin pages (by path, and everything under it) this page shows in plain form instead of
   * their raw endpoints: the system plugin's "/system" is the dashboard, "/system/network" the
   * Network page */
  shows?: string[];
}

export const NAV: NavItem[] = [
  { id: "dashboard", title: "Dashboard", path: "/", needs: [], section: "main", icon: "◧", shows: ["/system"] },
  { id: "storage", covers: true, title: "Storage", path: "/storage", needs: ["/storage/pools"], section: "main", icon: "⛁" },
  { id: "protection", title: "Data protection", path: "/protection", needs: ["/storage/protection/tasks"], section: "main", icon: "☂" },
  { id: "agents", covers: true, title: "Agents", path: "/agents", needs: ["/agents"], section: "main", icon: "✦" },
  { id: "compression", covers: true, title: "Compression", path: "/compression", needs: ["/compression/jobs"], section: "main", icon: "⇲" },
  { id: "encryption", covers: true, title: "Encryption", path: "/encryption", needs: ["/encryption/status"], section: "main", icon: "◈" },
  { id: "network", covers: true, title: "Network", path: "/network", needs: ["/system/network/interfaces", "/network/phantommesh"], section: "main", icon: "⇄", shows: ["/system/network"] },
  { id: "shares", title: "Shares", path: "/shares", needs: ["/shares"], section: "main", icon: "⇆" },
  { id: "accounts", title: "Share accounts", path: "/accounts", needs: ["/shares/users"], section: "main", icon: "☺" },
  { id: "jobs", title: "Jobs", path: "/jobs", needs: [], section: "main", icon: "☰" },
  { id: "audit", title: "Audit log", path: "/audit", needs: ["/audit"], section: "admin", admin: true, icon: "✎" },
  { id: "notifications", title: "Notifications", path: "/notifications", needs: ["/notifications"], section: "admin", icon: "⚑" },
  { id: "plugins", title: "Plugins", path: "/plugins", needs: [], section: "admin", icon: "▣" },
  { id: "settings", title: "Users & API keys", path: "/settings", needs: ["/auth/users"], section: "admin", admin: true, icon: "⚙" },
];

const under = (path: string, base: string) => path === base || path.startsWith(`${base}/`);

function covering(page: { id: string; path: string }): NavItem | undefined {
  // the most specific "shows" first: /system/network is the Network page, not the dashboard
  const shown = NAV.flatMap((n) => (n.shows ?? []).filter((b) => under(page.path, b)).map((b) => [b.length, n] as const))
    .sort((a, b) => b[0] - a[0])[0]?.[1];
  return shown ?? NAV.find((n) => n.id === page.id || n.path === page.path || (n.covers && page.path.startsWith(`${n.path}/`)));
}

/** True when a plugin-registered page is already shown by one of the UI's own pages. */
export function coveredByNav(page: { id: string; path: string }): boolean {
  return covering(page) !== undefined;
}

/** Where the UI shows a plugin-registered page: the built-in page covering it, or the generic one. */
export function pageHref(page: { id: string; path: string }): string {
  return covering(page)?.path ?? `/p/${page.id}`;
}

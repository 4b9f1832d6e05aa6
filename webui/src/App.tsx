import { lazy, Suspense, useEffect, useState, type ReactNode } from "react";
import { createHashRouter, NavLink, Outlet, RouterProvider, useLocation } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { onUnauthorized } from "./lib/api";
import { useLogout, useMe } from "./hooks/useAuth";
import { useCapabilities } from "./hooks/useCapabilities";
import { useJobToasts } from "./hooks/useJobs";
import { EventSocketProvider, useConnectionLost, useSocketStatus } from "./hooks/useWebSocket";
import { ConfirmProvider } from "./components/confirm";
import { NotificationCentre } from "./components/NotificationCentre";
import { ErrorState, Loading } from "./components/ui";
import { coveredByNav, NAV } from "./nav";
import LoginPage from "./pages/Login";

const Dashboard = lazy(() => import("./pages/Dashboard"));
const Storage = lazy(() => import("./pages/Storage"));
const Agents = lazy(() => import("./pages/Agents"));
const Compression = lazy(() => import("./pages/Compression"));
const Encryption = lazy(() => import("./pages/Encryption"));
const Network = lazy(() => import("./pages/Network"));
const Jobs = lazy(() => import("./pages/Jobs"));
const Audit = lazy(() => import("./pages/Audit"));
const Plugins = lazy(() => import("./pages/Plugins"));
const Settings = lazy(() => import("./pages/Settings"));
const PluginPage = lazy(() => import("./pages/PluginPage"));
const [Shares, Accounts] = [lazy(() => import("./pages/Shares")), lazy(() => import("./pages/Accounts"))];

function useTheme(): [string, () => void] {
  const [theme, setTheme] = useState(() => document.documentElement.dataset.theme ?? (matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark"));
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem("sv-theme", theme);
  }, [theme]);
  return [theme, () => setTheme((t) => (t === "dark" ? "light" : "dark"))];
}

function SocketDot() {
  const status = useSocketStatus();
  return (
    <span className={`socket ${status}`} title={`live updates: ${status}`} aria-label={`live updates ${status}`} data-testid="socket-status" data-status={status}>
      ● {status === "open" ? "live" : status}
    </span>
  );
}

function Shell() {
  const me = useMe();
  const caps = useCapabilities();
  const logout = useLogout();
  const [theme, toggleTheme] = useTheme();
  const [menuOpen, setMenuOpen] = useState(false);
  const lost = useConnectionLost();
  const location = useLocation();
  useEffect(() => setMenuOpen(false), [location.pathname]);
  useJobToasts();
  const isAdmin = me.data?.role === "admin";
  const visible = NAV.filter((n) => (n.needs.length === 0 || n.needs.some((p) => caps.has(p))) && (!n.admin || isAdmin));
  const extra = caps.pages.filter((p) => p.kind !== "widget" && !coveredByNav(p));
  const link = (to: string, title: string, icon: string, key: string) => (
    <li key={key}>
      <NavLink to={to} end={to === "/"} className={({ isActive }) => (isActive ? "active" : undefined)}>
        <span className="icon" aria-hidden>{icon}</span> {title}
      </NavLink>
    </li>
  );
  return (
    <div className="shell" data-role={me.data?.role}>
      <a href="#main" className="skip">Skip to content</a>
      <nav className={`sidebar${menuOpen ? " open" : ""}`} aria-label="Main" id="main-nav">
        <div className="brand">Σ SigmaVault</div>
        <ul>{visible.filter((n) => n.section === "main").map((n) => link(n.path, n.title, n.icon, n.id))}
          {extra.filter((p) => p.section !== "admin").map((p) => link(`/p/${p.id}`, p.title, "◇", p.id))}</ul>
        <div className="nav-section">Administration</div>
        <ul>{visible.filter((n) => n.section === "admin").map((n) => link(n.path, n.title, n.icon, n.id))}
          {extra.filter((p) => p.section === "admin").map((p) => link(`/p/${p.id}`, p.title, "◇", p.id))}</ul>
      </nav>
      <div className={`main-col${lost ? " stale" : ""}`}>
        {lost && (
          <div className="conn-banner" role="alert" data-testid="connection-lost">
            <span className="spinner" aria-hidden /> Connection to SigmaVault lost — reconnecting… The figures below may be out of date.
          </div>
        )}
        <header className="topbar">
          <button type="button" className="btn small menu-toggle" aria-expanded={menuOpen} aria-controls="main-nav" onClick={() => setMenuOpen((o) => !o)}>
            ☰ Menu
          </button>
          <SocketDot />
          <div className="spacer" />
          <NotificationCentre pageHref="#/notifications" />
          <button type="button" className="btn small" onClick={toggleTheme} aria-label={`switch to ${theme === "dark" ? "light" : "dark"} theme`}>
            {theme === "dark" ? "☀ Light" : "☾ Dark"}
          </button>
          <span className="user" data-testid="current-user">{me.data?.username} <small>({me.data?.role})</small></span>
          <button type="button" className="btn small" onClick={() => logout.mutate()} disabled={logout.isPending}>
            Sign out
          </button>
        </header>
        <main id="main" tabIndex={-1}>
          {caps.error && !caps.ready ? <ErrorState error={caps.error} /> : (
            <Suspense fallback={<Loading />}>
              <Outlet />
            </Suspense>
          )}
        </main>
      </div>
    </div>
  );
}

function AuthGate({ children }: { children: ReactNode }) {
  const me = useMe();
  const qc = useQueryClient();
  useEffect(() => onUnauthorized(() => qc.setQueryData(["auth", "me"], null)), [qc]);
  if (me.isLoading) return <Loading label="Connecting…" />;
  if (me.error) return <ErrorState error={me.error} retry={() => void me.refetch()} />;
  if (!me.data) return <LoginPage />;
  return <EventSocketProvider key={me.data.username}>{children}</EventSocketProvider>;
}

const router = createHashRouter([
  {
    path: "/",
    element: (
      <AuthGate>
        <ConfirmProvider>
          <Shell />
        </ConfirmProvider>
      </AuthGate>
    ),
    children: [
      { index: true, element: <Dashboard /> },
      { path: "storage", element: <Storage /> },
      { path: "protection", Component: lazy(() => import("./pages/Protection")) },
      { path: "agents", element: <Agents /> },
      { path: "agents/:name", element: <Agents /> },
      { path: "compression", element: <Compression /> },
      { path: "encryption", element: <Encryption /> },
      { path: "network", element: <Network /> },
      { path: "jobs", element: <Jobs /> },
      { path: "audit", element: <Audit /> },
      { path: "plugins", element: <Plugins /> },
      { path: "notifications", Component: lazy(() => import("./pages/Notifications")) },
      { path: "settings", element: <Settings /> },
      { path: "shares", element: <Shares /> }, { path: "accounts", element: <Accounts /> },
      { path: "p/:id", element: <PluginPage /> },
      { path: "*", element: <p className="state">No such page.</p> },
    ],
  },
]);

export function App() {
  return <RouterProvider router={router} />;
}

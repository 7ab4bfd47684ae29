// The dashboard's shell: header with navigation, server status and theme toggle, and the page
// the path names. `/` opens the Overview (the pipeline at a glance); the other pages are one
// click away.

import "uplot/dist/uPlot.min.css";
import "./styles.css";

import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api } from "./api";
import { Link } from "./components/Link";
import { fmtSpan } from "./format";
import { useLoad } from "./hooks";
import { Alerts } from "./pages/Alerts";
import { Explore } from "./pages/Explore";
import { Guests } from "./pages/Guests";
import { Live } from "./pages/Live";
import { Overview } from "./pages/Overview";
import { Patterns } from "./pages/Patterns";
import { navigate, useLocation } from "./router";
import { initTheme, setTheme, useTheme } from "./theme";

const PAGES = [
  { path: "/overview", title: "Overview", view: Overview },
  { path: "/live", title: "Live", view: Live },
  { path: "/explore", title: "Explore", view: Explore },
  { path: "/patterns", title: "Patterns", view: Patterns },
  { path: "/alerts", title: "Alerts", view: Alerts },
  { path: "/guests", title: "Guests", view: Guests },
] as const;

const HOME = "/overview";

function ThemeToggle() {
  const theme = useTheme();
  const next = theme === "dark" ? "light" : "dark";
  return (
    <button
      type="button"
      class="icon-btn"
      onClick={() => setTheme(next)}
      title={`Switch to the ${next} theme`}
      aria-label={`Switch to the ${next} theme`}
      data-testid="theme-toggle"
      data-theme-current={theme}
    >
      {theme === "dark" ? (
        <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
          <circle cx="12" cy="12" r="4.5" fill="currentColor" />
          <path
            d="M12 2v2.5M12 19.5V22M2 12h2.5M19.5 12H22M4.9 4.9l1.8 1.8M17.3 17.3l1.8 1.8M4.9 19.1l1.8-1.8M17.3 6.7l1.8-1.8"
            stroke="currentColor"
            stroke-width="1.8"
            stroke-linecap="round"
          />
        </svg>
      ) : (
        <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
          <path d="M20 14.5A8.5 8.5 0 0 1 9.5 4a8.5 8.5 0 1 0 10.5 10.5z" fill="currentColor" />
        </svg>
      )}
    </button>
  );
}

function ServerStatus() {
  const health = useLoad((signal) => api.health(signal), [], 15_000);
  const up = health.data && !health.error;
  const title = up ? `Sluice ${health.data?.version ?? ""}, up ${fmtSpan(health.data?.uptime_seconds)}` : health.error ? health.error.message : "checking…";
  return (
    <span class={`server-status ${up ? "up" : health.error ? "down" : ""}`} title={title} data-testid="server-status">
      <span class="dot" />
      <span class="server-status-text">{up ? `v${health.data?.version ?? "?"}` : health.error ? "unreachable" : "…"}</span>
    </span>
  );
}

function App() {
  const { path } = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const page = PAGES.find((p) => p.path === path);

  useEffect(() => {
    if (path === "/" || path === "") navigate(HOME + location.search, true);
  }, [path]);

  useEffect(() => {
    document.title = page ? `${page.title} · Sluice` : "Sluice";
    setMenuOpen(false);
  }, [page]);

  const View = page?.view;
  return (
    <div class="shell">
      <header class="topbar">
        <Link href={HOME} class="brand" testid="brand">
          <svg viewBox="0 0 32 32" width="22" height="22" aria-hidden="true">
            <rect width="32" height="32" rx="7" class="brand-mark" />
            <path
              d="M6 11c4 0 4-3 8-3s4 3 8 3 4-3 4-3M6 18c4 0 4-3 8-3s4 3 8 3 4-3 4-3M6 25c4 0 4-3 8-3s4 3 8 3 4-3 4-3"
              fill="none"
              stroke="#fff"
              stroke-width="2.4"
              stroke-linecap="round"
            />
          </svg>
          <span>Sluice</span>
        </Link>
        <button
          type="button"
          class="icon-btn menu-btn"
          aria-label="Menu"
          aria-expanded={menuOpen}
          onClick={() => setMenuOpen(!menuOpen)}
          data-testid="menu-toggle"
        >
          <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
            <path d="M4 7h16M4 12h16M4 17h16" stroke="currentColor" stroke-width="2" stroke-linecap="round" />
          </svg>
        </button>
        <nav class={`nav${menuOpen ? " open" : ""}`} aria-label="Pages">
          {PAGES.map((p) => (
            <Link
              key={p.path}
              href={p.path}
              class={`nav-link${p.path === path ? " active" : ""}`}
              current={p.path === path}
              testid={`nav-${p.title.toLowerCase()}`}
              onNavigate={() => setMenuOpen(false)}
            >
              {p.title}
            </Link>
          ))}
        </nav>
        <div class="topbar-end">
          <ServerStatus />
          <ThemeToggle />
        </div>
      </header>
      <main class="content">
        {View ? (
          <View />
        ) : path === "/" ? null : (
          <div class="empty-page" data-testid="not-found">
            <h1>Not found</h1>
            <p>
              The dashboard has no page at <code>{path}</code>. <Link href={HOME}>Go to the overview</Link>.
            </p>
          </div>
        )}
      </main>
    </div>
  );
}

initTheme();
const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
}

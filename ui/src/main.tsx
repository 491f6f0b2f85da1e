// The UI's entry: the page shell (top bar, theme toggle, build info) and the hash router.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import "uplot/dist/uPlot.min.css";
import "./style.css";
import * as api from "./api";
import { Alerts } from "./pages/alerts";
import { DashboardPage } from "./pages/dashboard";
import { DashboardList } from "./pages/dashboards";
import { Explore } from "./pages/explore";
import { Overview } from "./pages/overview";
import { Security } from "./pages/security";
import { useRoute } from "./route";

type Theme = "light" | "dark";

function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(() => (document.documentElement.dataset.theme as Theme) ?? "light");
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    dispatchEvent(new Event("vigil-theme"));
  }, [theme]);
  const flip = () => {
    const next = theme === "dark" ? "light" : "dark";
    try {
      localStorage.setItem("vigil.theme", next);
    } catch {
      // Private windows may refuse storage; the toggle still works for this page.
    }
    setTheme(next);
  };
  return (
    <button class="icon-btn" onClick={flip} title={`Switch to ${theme === "dark" ? "light" : "dark"} theme`} aria-label="Toggle theme">
      {theme === "dark" ? "☀" : "☾"}
    </button>
  );
}

function BuildInfo() {
  const [info, setInfo] = useState("");
  useEffect(() => {
    api.buildInfo().then(
      (b) => setInfo(b.revision?.startsWith("vigil") ? b.revision.replace("-", " ") : `vigil ${b.version}`),
      () => setInfo(""),
    );
  }, []);
  return <span class="build" title="The server version, from /api/v1/status/buildinfo">{info}</span>;
}

function NotFound() {
  return (
    <main class="page">
      <h1>Page not found</h1>
      <p>
        There is no such page. Go to the <a href="#/">fleet overview</a>.
      </p>
    </main>
  );
}

function App() {
  const route = useRoute();
  const [first] = route.path;
  let page;
  if (!first) page = <Overview route={route} />;
  else if (first === "host" && route.path[1]) page = <DashboardPage key={`host/${route.path[1]}`} route={route} id="host" fixed={{ host: route.path[1] }} />;
  else if (first === "d" && route.path[1]) page = <DashboardPage key={`d/${route.path[1]}`} route={route} id={route.path[1]} />;
  else if (first === "dashboards") page = <DashboardList />;
  else if (first === "explore") page = <Explore route={route} />;
  else if (first === "alerts") page = <Alerts route={route} />;
  else if (first === "security") page = <Security route={route} />;
  else page = <NotFound />;
  const nav = (path: string, label: string, active: boolean) => (
    <a href={path} class={active ? "active" : ""} aria-current={active ? "page" : undefined}>
      {label}
    </a>
  );
  return (
    <>
      <header class="topbar">
        <a href="#/" class="brand" aria-label="vigil home">
          <svg width="20" height="20" viewBox="0 0 32 32" aria-hidden="true">
            <rect width="32" height="32" rx="7" fill="var(--accent)" />
            <path d="M6 17h5l3-8 4 14 3-6h5" fill="none" stroke="#fff" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round" />
          </svg>
          <span>vigil</span>
        </a>
        <nav>
          {nav("#/", "Overview", !first || first === "host")}
          {nav("#/dashboards", "Dashboards", first === "dashboards" || first === "d")}
          {nav("#/explore", "Explore", first === "explore")}
          {nav("#/alerts", "Alerts", first === "alerts")}
          {nav("#/security", "Security", first === "security")}
        </nav>
        <span class="grow" />
        <BuildInfo />
        <ThemeToggle />
      </header>
      {page}
    </>
  );
}

render(<App />, document.getElementById("app")!);

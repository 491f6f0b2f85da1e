// Hash routes: `#/<path>?<params>`, so every page's state (time range, query, host, refresh) is in the URL.
import { useEffect, useState } from "preact/hooks";

export interface Route { path: string[]; params: URLSearchParams }

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, "");
  const q = raw.indexOf("?");
  const pathPart = q < 0 ? raw : raw.slice(0, q);
  const path = pathPart.split("/").filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { path, params: new URLSearchParams(q < 0 ? "" : raw.slice(q + 1)) };
}

export function href(path: string[], params?: Record<string, string | undefined> | URLSearchParams): string {
  const p = new URLSearchParams();
  if (params instanceof URLSearchParams) params.forEach((v, k) => p.set(k, v));
  else if (params) for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") p.set(k, v);
  const qs = p.toString();
  return `#/${path.map(encodeURIComponent).join("/")}${qs ? `?${qs}` : ""}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(location.hash));
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

/// Changes some parameters of the current route; `replace` keeps the browser history short for typing.
export function setParams(changes: Record<string, string | undefined>, replace = false): void {
  const r = parseHash(location.hash);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === "") r.params.delete(k);
    else r.params.set(k, v);
  }
  const next = href(r.path, r.params);
  if (replace) history.replaceState(null, "", next);
  if (replace) dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = next;
}

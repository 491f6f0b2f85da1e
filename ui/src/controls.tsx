// Shared page controls: the time range picker (presets and absolute), auto refresh, and the messages for
// loading, empty and error states.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { setParams } from "./route";
import { PRESETS, REFRESH, rangeLabel, refreshMs, resolve, type Range } from "./time";

export function rangeFromParams(params: URLSearchParams, from = "now-1h"): Range {
  return { from: params.get("from") || from, to: params.get("to") || "now" };
}

function toLocalInput(expr: string): string {
  const s = resolve(expr);
  if (s === undefined) return "";
  const d = new Date(s * 1000 - new Date().getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

export function TimePicker({ range }: { range: Range }) {
  const [open, setOpen] = useState(false);
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  useEffect(() => {
    if (open) {
      setFrom(toLocalInput(range.from));
      setTo(toLocalInput(range.to));
    }
  }, [open]);
  const apply = (e: Event) => {
    e.preventDefault();
    const a = new Date(from).getTime();
    const b = new Date(to).getTime();
    if (Number.isFinite(a) && Number.isFinite(b) && a < b) {
      setParams({ from: String(a), to: String(b) });
      setOpen(false);
    }
  };
  return (
    <div class="picker">
      <button class="btn" aria-haspopup="true" aria-expanded={open} onClick={() => setOpen(!open)} title="Time range">
        <span aria-hidden="true">◷ </span>
        {rangeLabel(range)}
      </button>
      {open && (
        <div class="menu" role="menu">
          {PRESETS.map(([value, label]) => (
            <button
              class={`menu-item${range.from === value && range.to === "now" ? " active" : ""}`}
              onClick={() => {
                setParams({ from: value, to: "now" });
                setOpen(false);
              }}
            >
              {label}
            </button>
          ))}
          <form class="absolute" onSubmit={apply}>
            <label>
              From <input type="datetime-local" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} />
            </label>
            <label>
              To <input type="datetime-local" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
            </label>
            <button class="btn primary" type="submit">
              Apply
            </button>
          </form>
        </div>
      )}
    </div>
  );
}

export function RefreshPicker({ value }: { value: string }) {
  return (
    <label class="refresh" title="Auto refresh">
      <span aria-hidden="true">⟳</span>
      <select value={value} onChange={(e) => setParams({ refresh: (e.target as HTMLSelectElement).value }, true)}>
        {REFRESH.map((r) => (
          <option value={r}>{r || "Off"}</option>
        ))}
      </select>
    </label>
  );
}

/// A counter that grows every `refresh` (e.g. `30s`) while the tab is visible; pages reload when it changes.
export function useTick(refresh: string): number {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ms = refreshMs(refresh);
    if (!ms) return;
    const id = setInterval(() => {
      if (document.visibilityState === "visible") setTick((t) => t + 1);
    }, ms);
    return () => clearInterval(id);
  }, [refresh]);
  return tick;
}

export function ErrorBox({ error, hint }: { error: string; hint?: string }) {
  return (
    <div class="error" role="alert">
      <strong>Error:</strong> {error}
      {hint && <div class="hint">{hint}</div>}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>;
}

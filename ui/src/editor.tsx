// The query editor of Explore: a textarea that runs on Enter and offers completions from a language's
// `Complete` function (PromQL or LogQL), chosen with the arrow keys and accepted with Tab or Enter.
import { useEffect, useRef, useState } from "preact/hooks";

export interface Suggestion { text: string; kind: "metric" | "label" | "value" | "function" | "keyword" }
export interface Completion { from: number; items: Suggestion[] }
/// What could complete the word before `cursor` in `text`; `from` is where the replaced word starts.
export type Complete = (text: string, cursor: number) => Promise<Completion>;

/// What an accepted suggestion adds after itself: functions open their call, keywords a space.
function suffix(s: Suggestion): string {
  return s.kind === "function" ? "(" : s.kind === "keyword" ? " " : "";
}

export interface EditorProps {
  value: string;
  onRun: (q: string) => void;
  complete: Complete;
  placeholder: string;
  label: string;
}

export function Editor({ value, onRun, complete, placeholder, label }: EditorProps) {
  const [text, setText] = useState(value);
  const [sugg, setSugg] = useState<Completion>({ from: 0, items: [] });
  const [sel, setSel] = useState(0);
  const ref = useRef<HTMLTextAreaElement>(null);
  const seq = useRef(0);
  useEffect(() => setText(value), [value]);
  const close = () => {
    seq.current++;
    setSugg({ from: 0, items: [] });
  };
  const update = (t: string, cursor: number) => {
    setText(t);
    const n = ++seq.current;
    complete(t, cursor).then(
      (s) => {
        if (n === seq.current) {
          setSugg(s);
          setSel(0);
        }
      },
      () => n === seq.current && setSugg({ from: 0, items: [] }),
    );
  };
  const accept = (s: Suggestion) => {
    const el = ref.current;
    if (!el) return;
    const cursor = el.selectionStart;
    const add = s.text + suffix(s);
    const next = text.slice(0, sugg.from) + add + text.slice(cursor);
    setText(next);
    close();
    const pos = sugg.from + add.length;
    requestAnimationFrame(() => {
      el.focus();
      el.setSelectionRange(pos, pos);
    });
  };
  const keydown = (e: KeyboardEvent) => {
    const open = sugg.items.length > 0;
    if (e.key === "Enter" && !e.shiftKey && !(open && sel >= 0)) {
      e.preventDefault();
      close();
      onRun(text);
    } else if (open && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
      e.preventDefault();
      setSel((s) => (s + (e.key === "ArrowDown" ? 1 : -1) + sugg.items.length) % sugg.items.length);
    } else if (open && (e.key === "Tab" || e.key === "Enter")) {
      e.preventDefault();
      accept(sugg.items[sel]);
    } else if (e.key === "Escape") {
      close();
    }
  };
  return (
    <div class="editor">
      <textarea
        ref={ref}
        class="query"
        rows={Math.min(8, Math.max(2, text.split("\n").length))}
        spellcheck={false}
        autocomplete="off"
        placeholder={placeholder}
        value={text}
        aria-label={label}
        onInput={(e) => {
          const el = e.target as HTMLTextAreaElement;
          update(el.value, el.selectionStart);
        }}
        onKeyDown={keydown}
        onBlur={() => setTimeout(close, 150)}
      />
      {sugg.items.length > 0 && (
        <ul class="suggest" role="listbox">
          {sugg.items.map((s, i) => (
            <li role="option" aria-selected={i === sel} class={i === sel ? "sel" : ""} onMouseDown={(e) => (e.preventDefault(), accept(s))}>
              <span class={`kind k-${s.kind}`}>{s.kind[0]}</span>
              {s.text}
            </li>
          ))}
        </ul>
      )}
      <button class="btn primary run" onClick={() => (close(), onRun(text))}>
        Run
      </button>
      <div class="hint">Enter runs, Shift+Enter adds a line, Tab completes.</div>
    </div>
  );
}

// Shared hooks: loading (and polling) data, debouncing input, a ticking clock.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { isAbort } from "./api";

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  /** Loads again now. */
  reload: () => void;
}

/**
 * Runs `load` when `deps` change, and every `pollMs` after each load finished (polls never
 * overlap, and pause while the tab is hidden). The last data stays shown while the next load
 * runs and when it fails, so a refresh never blanks the page; the error is reported beside it.
 */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[], pollMs?: number): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: Error | undefined; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const [nonce, setNonce] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    const controller = new AbortController();
    let timer: number | undefined;
    let alive = true;

    const run = async () => {
      if (!alive) return;
      if (pollMs && document.hidden) {
        timer = window.setTimeout(run, pollMs);
        return;
      }
      setState((s) => (s.loading ? s : { ...s, loading: true }));
      try {
        const data = await loadRef.current(controller.signal);
        if (alive) setState({ data, error: undefined, loading: false });
      } catch (e) {
        if (!alive || isAbort(e)) return;
        setState((s) => ({ data: s.data, error: e instanceof Error ? e : new Error(String(e)), loading: false }));
      }
      if (alive && pollMs) timer = window.setTimeout(run, pollMs);
    };
    void run();
    return () => {
      alive = false;
      window.clearTimeout(timer);
      controller.abort();
    };
  }, [...deps, nonce, pollMs]);

  const reload = useCallback(() => setNonce((n) => n + 1), []);
  return { ...state, reload };
}

/** `value`, once it has stayed the same for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = window.setTimeout(() => setSettled(value), ms);
    return () => window.clearTimeout(t);
  }, [value, ms]);
  return settled;
}

/** The current time in ms, updated every `everyMs`. */
export function useNow(everyMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), everyMs);
    return () => window.clearInterval(t);
  }, [everyMs]);
  return now;
}

// Path routing with the History API. The server answers every non-API path with index.html, so
// `/explore?levels=ERROR` can be shared and reloaded; pages keep their filters in the query
// string through `useQuery` / `setQuery`.

import { useEffect, useState } from "preact/hooks";

type Listener = () => void;
const listeners = new Set<Listener>();

function emit(): void {
  for (const listener of listeners) listener();
}

window.addEventListener("popstate", emit);

export function navigate(to: string, replace = false): void {
  const current = location.pathname + location.search;
  if (to === current) return;
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  emit();
}

export interface Location {
  path: string;
  search: string;
}

function read(): Location {
  return { path: location.pathname, search: location.search };
}

export function useLocation(): Location {
  const [loc, setLoc] = useState<Location>(read);
  useEffect(() => {
    const update = () =>
      setLoc((prev) => {
        const next = read();
        return prev.path === next.path && prev.search === next.search ? prev : next;
      });
    listeners.add(update);
    update();
    return () => {
      listeners.delete(update);
    };
  }, []);
  return loc;
}

/** The current query string's parameters (re-rendering when they change). */
export function useQuery(): URLSearchParams {
  return new URLSearchParams(useLocation().search);
}

/**
 * Sets (or, with an empty value, removes) query parameters of the current path. Filters replace
 * the history entry so that typing does not fill the back button.
 */
export function setQuery(changes: Record<string, string | number | undefined | null>, replace = true): void {
  const params = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === null || v === "") params.delete(k);
    else params.set(k, String(v));
  }
  const s = params.toString();
  navigate(location.pathname + (s ? `?${s}` : ""), replace);
}

/** Handles a click on an in-app link: plain left clicks navigate without a page load. */
export function onLinkClick(ev: MouseEvent, to: string): void {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  ev.preventDefault();
  navigate(to);
}

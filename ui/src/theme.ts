// Light and dark themes. The choice is the `data-theme` attribute of <html> (the stylesheet's
// variables follow it); it starts from `prefers-color-scheme` and, once toggled, is remembered in
// localStorage. Charts draw on canvas and cannot use CSS variables, so they read the palette
// from here and redraw when the theme changes.

import { useEffect, useState } from "preact/hooks";

export type Theme = "light" | "dark";

const KEY = "sluice.theme";
const listeners = new Set<(t: Theme) => void>();
const media = window.matchMedia("(prefers-color-scheme: dark)");

function stored(): Theme | null {
  try {
    const v = localStorage.getItem(KEY);
    return v === "light" || v === "dark" ? v : null;
  } catch {
    return null;
  }
}

let current: Theme = stored() ?? (media.matches ? "dark" : "light");

function apply(): void {
  document.documentElement.dataset.theme = current;
}

/** Sets the theme on <html>; called once before the first render. */
export function initTheme(): void {
  apply();
  media.addEventListener("change", (ev) => {
    if (stored() === null) {
      current = ev.matches ? "dark" : "light";
      apply();
      for (const l of listeners) l(current);
    }
  });
}

export function getTheme(): Theme {
  return current;
}

export function setTheme(theme: Theme): void {
  current = theme;
  try {
    localStorage.setItem(KEY, theme);
  } catch {
    // Not remembered when storage is disabled.
  }
  apply();
  for (const l of listeners) l(current);
}

export function useTheme(): Theme {
  const [theme, set] = useState<Theme>(current);
  useEffect(() => {
    listeners.add(set);
    set(current);
    return () => {
      listeners.delete(set);
    };
  }, []);
  return theme;
}

export interface Palette {
  text: string;
  muted: string;
  grid: string;
  axis: string;
  background: string;
  accent: string;
  levels: Record<string, string>;
}

const LIGHT: Palette = {
  text: "#1b2330",
  muted: "#5d6878",
  grid: "rgba(27, 35, 48, 0.08)",
  axis: "rgba(27, 35, 48, 0.25)",
  background: "#ffffff",
  accent: "#0f6fd1",
  levels: { DEBUG: "#8a94a6", INFO: "#2f80d8", WARNING: "#d99a06", ERROR: "#dc3b3b", CRITICAL: "#9b2fc9" },
};

const DARK: Palette = {
  text: "#d9dee7",
  muted: "#8b95a7",
  grid: "rgba(217, 222, 231, 0.08)",
  axis: "rgba(217, 222, 231, 0.25)",
  background: "#161b24",
  accent: "#4c9bef",
  levels: { DEBUG: "#6f7a8d", INFO: "#4c9bef", WARNING: "#e6b23a", ERROR: "#f06464", CRITICAL: "#c07ae8" },
};

export function palette(theme: Theme): Palette {
  return theme === "dark" ? DARK : LIGHT;
}

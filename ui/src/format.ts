// Formatting of numbers, sizes, times and spans for display.

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

export function fmtInt(n: number | null | undefined): string {
  return n === null || n === undefined || !Number.isFinite(n) ? "–" : integer.format(n);
}

/** 950, 12.3k, 4.5M. */
export function fmtCompact(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  const a = Math.abs(n);
  if (a < 1000) return decimal.format(n);
  if (a < 1e6) return `${decimal.format(n / 1e3)}k`;
  if (a < 1e9) return `${decimal.format(n / 1e6)}M`;
  return `${decimal.format(n / 1e9)}G`;
}

export function fmtRate(perSecond: number | null | undefined): string {
  if (perSecond === null || perSecond === undefined || !Number.isFinite(perSecond)) return "–";
  if (perSecond > 0 && perSecond < 10) return `${perSecond.toFixed(1)}/s`;
  return `${fmtCompact(Math.round(perSecond))}/s`;
}

export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function fmtPercent(share: number | null | undefined): string {
  if (share === null || share === undefined || !Number.isFinite(share)) return "–";
  return `${(share * 100).toFixed(share < 0.1 ? 2 : 1)}%`;
}

/** 45s, 12m 3s, 5h 2m, 3d 4h. */
export function fmtSpan(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

function parse(ts: string | null | undefined): Date | null {
  if (!ts) return null;
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** Local wall-clock time with milliseconds: 14:03:07.221. */
export function fmtClock(ts: string | null | undefined): string {
  const d = parse(ts);
  if (!d) return ts ?? "–";
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** Local date and time: 2026-05-01 14:03:07. */
export function fmtDateTime(ts: string | null | undefined): string {
  const d = parse(ts);
  if (!d) return ts ?? "–";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** 5s ago, 3m ago, 2h ago, 4d ago. */
export function fmtAgo(ts: string | null | undefined, now = Date.now()): string {
  const d = parse(ts);
  if (!d) return "–";
  const s = Math.round((now - d.getTime()) / 1000);
  if (s < -5) return "in the future";
  if (s < 60) return `${Math.max(0, s)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function shortId(id: string | null | undefined, n = 12): string {
  if (!id) return "–";
  return id.length > n ? id.slice(0, n) : id;
}

// Overview: the headline counters, the pipeline with live rates (from successive polls of
// /api/v1/pipeline every 2 s), events per minute stacked by level and the error rate over the
// last hour (/api/v1/timeline), and the volume by level and by source.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { api } from "../api";
import { Chart } from "../components/Chart";
import { ErrorBanner } from "../components/ErrorBanner";
import { Link } from "../components/Link";
import { PipelineDiagram, type Rates } from "../components/PipelineDiagram";
import { fmtCompact, fmtInt, fmtPercent, fmtRate, fmtSpan } from "../format";
import { useLoad } from "../hooks";
import { palette, useTheme, type Palette } from "../theme";
import { LEVELS, type Pipeline, type Timeline } from "../types";

const PIPELINE_POLL_MS = 2000;
const TIMELINE_POLL_MS = 10_000;
const WINDOW = "1h";
const BUCKETS = 60;
/** Stacked from the bottom: the rare, severe levels stay visible under the common ones. */
const STACK = ["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"];

/** The timeline's span in seconds. */
function windowSeconds(t: Timeline | undefined): number {
  return t && t.bucket_seconds > 0 && t.buckets.length > 0 ? t.bucket_seconds * t.buckets.length : 3600;
}

function perMinute(perSecond: number): string {
  const m = perSecond * 60;
  if (m > 0 && m < 0.1) return "<0.1/min";
  return `${m < 10 ? m.toFixed(1) : fmtCompact(Math.round(m))}/min`;
}

/** The legend's time: the bucket's start, HH:MM. */
const timeSeries: uPlot.Series = {
  label: "minute",
  value: (_u: uPlot, v: number | null) => {
    if (v === null || v === undefined) return "–";
    const d = new Date(v * 1000);
    return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
  },
};

/** Counters of a pipeline snapshot, by the keys the diagram and headline use. */
function counters(p: Pipeline): Record<string, number> {
  const c: Record<string, number> = {
    received: p.totals.received,
    stored: p.totals.stored,
    dead: p.totals.dead_lettered,
  };
  for (const i of p.inputs) c[`in:${i.name}`] = i.events;
  for (const s of p.stages) c[`stage:${s.name}`] = s.events_in;
  for (const o of p.outputs) c[`out:${o.name}`] = o.events;
  return c;
}

/** Per-second rates between the last two snapshots (none after the first, or after a restart). */
function useRates(p: Pipeline | undefined): Rates {
  const prev = useRef<{ at: number; c: Record<string, number>; uptime: number } | null>(null);
  const [rates, setRates] = useState<Rates>({});
  useEffect(() => {
    if (!p) return;
    const now = performance.now();
    const c = counters(p);
    const before = prev.current;
    if (before && p.uptime_seconds >= before.uptime && now - before.at > 200) {
      const dt = (now - before.at) / 1000;
      const next: Rates = {};
      for (const [k, v] of Object.entries(c)) {
        const old = before.c[k];
        next[k] = old === undefined || v < old ? undefined : (v - old) / dt;
      }
      setRates(next);
    }
    prev.current = { at: now, c, uptime: p.uptime_seconds };
  }, [p]);
  return rates;
}

/** `color` mixed with `into` (both #rrggbb), `share` of the first. */
function mix(color: string, into: string, share: number): string {
  const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  const a = rgb(color);
  const b = rgb(into);
  return `rgb(${a.map((v, i) => Math.round(v * share + (b[i] ?? 0) * (1 - share))).join(",")})`;
}

function axes(p: Palette, y: (v: number) => string): uPlot.Axis[] {
  const common = {
    stroke: p.muted,
    font: "11px system-ui, sans-serif",
    grid: { stroke: p.grid, width: 1 },
    ticks: { stroke: p.axis, width: 1, size: 4 },
  };
  return [
    { ...common },
    { ...common, size: 48, values: (_u: uPlot, ticks: number[]) => ticks.map(y) },
  ];
}

interface Series {
  x: number[];
  /** Raw counts per level (STACK order). */
  raw: number[][];
  /** Cumulative sums for drawing, top of the stack first. */
  stacked: number[][];
  errorRate: (number | null)[];
  totals: Record<string, number>;
  total: number;
}

function series(t: Timeline): Series {
  const x = t.buckets.map((b) => b.start_unix);
  const raw = STACK.map((l) => t.buckets.map((b) => b.levels[l] ?? 0));
  const cumulative: number[][] = [];
  raw.forEach((row, k) => cumulative.push(row.map((v, i) => v + (k > 0 ? (cumulative[k - 1]?.[i] ?? 0) : 0))));
  const totals: Record<string, number> = {};
  for (const l of LEVELS) totals[l] = 0;
  for (const b of t.buckets) for (const [l, n] of Object.entries(b.levels)) totals[l] = (totals[l] ?? 0) + (n ?? 0);
  const errorRate = t.buckets.map((b) => (b.total > 0 ? ((b.levels.ERROR ?? 0) + (b.levels.CRITICAL ?? 0)) / b.total : null));
  return { x, raw, stacked: [...cumulative].reverse(), errorRate, totals, total: t.buckets.reduce((a, b) => a + b.total, 0) };
}

function EventsChart({ s }: { s: Series }) {
  const data = useMemo(() => [s.x, ...s.stacked] as uPlot.AlignedData, [s]);
  const rawRef = useRef(s.raw);
  rawRef.current = s.raw;
  const top = [...STACK].reverse();
  return (
    <Chart
      testid="chart-events"
      label="Events per minute by level, last hour"
      height={220}
      configKey="events"
      data={data}
      build={(p) => ({
        cursor: { points: { show: false } },
        padding: [12, 12, 0, 0],
        legend: { live: true },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(4, max * 1.08)] } },
        axes: axes(p, (v) => fmtCompact(v)),
        series: [
          timeSeries,
          ...top.map((level, i) => {
            const color = p.levels[level] ?? p.accent;
            return {
              label: level,
              stroke: color,
              fill: mix(color, p.background, 0.78),
              width: 0,
              paths: uPlot.paths.bars?.({ size: [0.86, 48], gap: 1 }),
              points: { show: false },
              // The legend shows the level's own count, not the stacked height.
              value: (_u: uPlot, _v: number | null, _si: number, idx: number | null) =>
                idx === null ? "–" : fmtInt(rawRef.current[STACK.length - 1 - i]?.[idx] ?? 0),
            } satisfies uPlot.Series;
          }),
        ],
      })}
    />
  );
}

function ErrorRateChart({ s }: { s: Series }) {
  const data = useMemo(() => [s.x, s.errorRate] as uPlot.AlignedData, [s]);
  return (
    <Chart
      testid="chart-error-rate"
      label="Share of ERROR and CRITICAL events per minute, last hour"
      height={200}
      configKey="errors"
      data={data}
      build={(p) => ({
        cursor: { points: { show: false } },
        padding: [12, 12, 0, 0],
        legend: { live: true },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.min(1, Math.max(0.05, (max ?? 0) * 1.2))] } },
        axes: axes(p, (v) => `${Math.round(v * 1000) / 10}%`),
        series: [
          timeSeries,
          {
            // Bars, not a line: a minute with events between quiet ones still shows.
            label: "error rate",
            stroke: p.levels.ERROR ?? p.accent,
            fill: mix(p.levels.ERROR ?? "#dc3b3b", p.background, 0.7),
            width: 0,
            paths: uPlot.paths.bars?.({ size: [0.86, 48], gap: 1 }),
            points: { show: false },
            value: (_u: uPlot, v: number | null) => (v === null ? "–" : fmtPercent(v)),
          },
        ],
      })}
    />
  );
}

function Bars({ items, testid, unit }: { items: { label: string; value: number; color?: string | undefined; sub?: string }[]; testid: string; unit?: string }) {
  const max = Math.max(1, ...items.map((i) => i.value));
  if (items.length === 0) return <div class="empty">No events in the last hour.</div>;
  return (
    <ul class="bars" data-testid={testid}>
      {items.map((i) => (
        <li key={i.label} class="bar-row" data-label={i.label} data-value={i.value}>
          <span class="bar-label" title={i.label}>
            {i.label}
          </span>
          <span class="bar-track">
            <span class="bar-fill" style={{ width: `${(i.value / max) * 100}%`, ...(i.color ? { background: i.color } : {}) }} />
          </span>
          <span class="bar-value">
            {fmtInt(i.value)}
            {unit ? ` ${unit}` : ""}
            {i.sub && <span class="muted"> · {i.sub}</span>}
          </span>
        </li>
      ))}
    </ul>
  );
}

function Stat({ label, value, sub, testid }: { label: string; value: string; sub?: string; testid: string }) {
  return (
    <div class="stat" data-testid={testid}>
      <div class="stat-label">{label}</div>
      <div class="stat-value" data-testid={`${testid}-value`}>
        {value}
      </div>
      <div class="stat-sub">{sub ?? "\u00a0"}</div>
    </div>
  );
}

export function Overview() {
  const pipeline = useLoad((signal) => api.pipeline(signal), [], PIPELINE_POLL_MS);
  const timeline = useLoad((signal) => api.timeline(WINDOW, BUCKETS, signal), [], TIMELINE_POLL_MS);
  const rates = useRates(pipeline.data);
  const theme = useTheme();
  const p = palette(theme);
  const s = useMemo(() => (timeline.data ? series(timeline.data) : null), [timeline.data]);
  const totals = pipeline.data?.totals;

  return (
    <div class="page page-overview">
      <div class="page-head">
        <h1>Overview</h1>
        <span class="muted">Counters since the server started; charts over the last hour.</span>
      </div>
      <ErrorBanner error={pipeline.error} what="the pipeline" onRetry={pipeline.reload} />
      <ErrorBanner error={timeline.error} what="the timeline" onRetry={timeline.reload} />

      <div class="stats">
        <Stat label="Received" value={fmtInt(totals?.received)} sub={fmtRate(rates.received)} testid="headline-received" />
        <Stat label="Stored" value={fmtInt(totals?.stored)} sub={fmtRate(rates.stored)} testid="headline-stored" />
        <Stat
          label="Dead-lettered"
          value={fmtInt(totals?.dead_lettered)}
          sub={totals && totals.received > 0 ? `${fmtPercent(totals.dead_lettered / totals.received)} of received` : undefined}
          testid="headline-dead"
        />
        <Stat label="Uptime" value={fmtSpan(pipeline.data?.uptime_seconds)} testid="headline-uptime" />
      </div>

      <section class="panel">
        <div class="panel-title">Pipeline</div>
        {pipeline.data ? <PipelineDiagram pipeline={pipeline.data} rates={rates} /> : <div class="empty">{pipeline.error ? "Unavailable." : "Loading…"}</div>}
      </section>

      <div class="grid-2">
        <section class="panel panel-chart">
          <div class="panel-title">
            Events per minute <span class="muted">by level, last hour</span>
            {s && <span class="count">{fmtInt(s.total)}</span>}
          </div>
          {s ? <EventsChart s={s} /> : <div class="empty chart-placeholder">{timeline.error ? "Unavailable." : "Loading…"}</div>}
        </section>
        <section class="panel panel-chart">
          <div class="panel-title">
            Error rate <span class="muted">ERROR + CRITICAL share</span>
            {s && s.total > 0 && <span class="count">{fmtPercent(((s.totals.ERROR ?? 0) + (s.totals.CRITICAL ?? 0)) / s.total)}</span>}
          </div>
          {s ? <ErrorRateChart s={s} /> : <div class="empty chart-placeholder">{timeline.error ? "Unavailable." : "Loading…"}</div>}
        </section>
      </div>

      <div class="grid-2">
        <section class="panel">
          <div class="panel-title">
            Volume by level <span class="muted">last hour</span>
          </div>
          {s ? (
            <Bars
              testid="level-totals"
              items={[...LEVELS].reverse().map((l) => ({ label: l, value: s.totals[l] ?? 0, color: p.levels[l] }))}
            />
          ) : (
            <div class="empty">…</div>
          )}
        </section>
        <section class="panel">
          <div class="panel-title">
            Throughput by source <span class="muted">last hour, top 20</span>
          </div>
          {timeline.data ? (
            <Bars
              testid="source-list"
              items={timeline.data.sources.map((x) => ({ label: x.source ?? "(none)", value: x.count, sub: perMinute(x.count / windowSeconds(timeline.data)) }))}
            />
          ) : (
            <div class="empty">…</div>
          )}
          <div class="panel-foot">
            <Link href="/explore?since=1h">Explore the last hour</Link>
          </div>
        </section>
      </div>
    </div>
  );
}

// Patterns: the mined message templates, most frequent first, with their volume over the last
// 24 hours (one sparkline per row), first and last sighting, samples and the insight attached.

import { useState } from "preact/hooks";
import { api } from "../api";
import { ErrorBanner } from "../components/ErrorBanner";
import { InsightView } from "../components/EventDetails";
import { LevelBadge } from "../components/LevelBadge";
import { Link } from "../components/Link";
import { PAGE_SIZES, Pager } from "../components/Pager";
import { Sparkline } from "../components/Sparkline";
import { Template } from "../components/Template";
import { fmtAgo, fmtDateTime, fmtInt } from "../format";
import { useLoad, useNow } from "../hooks";
import { setQuery, useQuery } from "../router";
import type { PatternRow } from "../types";

const VOLUME_SINCE = "24h";
const VOLUME_BUCKETS = 24;

function samplesOf(p: PatternRow): string[] {
  return Array.isArray(p.samples) ? p.samples.map((s) => (typeof s === "string" ? s : JSON.stringify(s))) : [];
}

/** The template's longest fixed part, to search the history with. */
function literal(template: string): string {
  return template
    .split("<*>")
    .map((part) => part.trim())
    .reduce((best, part) => (part.length > best.length ? part : best), "");
}

function positive(text: string | null, fallback: number): number {
  const n = Number(text);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

export function Patterns() {
  const query = useQuery();
  const size = PAGE_SIZES.includes(positive(query.get("size"), 50)) ? positive(query.get("size"), 50) : 50;
  const page = positive(query.get("page"), 1) - 1;
  const [open, setOpen] = useState<string | null>(null);
  const now = useNow(30_000);

  const patterns = useLoad((signal) => api.patterns(size, page * size, signal), [size, page], 10_000);
  const rows = patterns.data?.rows ?? [];
  const ids = rows.map((r) => r.pattern_id).join(",");
  const volume = useLoad(
    (signal) => (ids ? api.patternVolume(ids.split(","), VOLUME_SINCE, VOLUME_BUCKETS, signal) : Promise.resolve(null)),
    [ids],
    30_000,
  );
  const series = volume.data?.series ?? {};

  return (
    <div class="page page-patterns">
      <div class="page-head">
        <h1>Patterns</h1>
        <span class="muted">Messages that differ only in their variable parts (<span class="var">&lt;*&gt;</span>) share a pattern.</span>
      </div>
      <ErrorBanner error={patterns.error} what="the patterns" onRetry={patterns.reload} />
      <ErrorBanner error={volume.error} what="the pattern volumes" />

      <div class="panel panel-flush">
        <Pager
          page={page}
          size={size}
          total={patterns.data?.total ?? 0}
          shown={rows.length}
          loading={patterns.loading}
          onPage={(p) => setQuery({ page: p > 0 ? p + 1 : undefined })}
          onSize={(s) => setQuery({ size: s, page: undefined })}
          testid="patterns"
        />
        <div class="grid-head pattern-grid" aria-hidden="true">
          <span>Template</span>
          <span class="num">Count</span>
          <span>Last 24 h</span>
          <span>Seen</span>
          <span>Insight</span>
        </div>
        {rows.length === 0 && !patterns.loading ? (
          <div class="empty" data-testid="patterns-empty">
            No patterns yet: they appear as events are ingested.
          </div>
        ) : (
          <ul class="grid-list">
            {rows.map((p) => {
              const samples = samplesOf(p);
              const isOpen = open === p.pattern_id;
              return (
                <li class={`grid-row pattern-grid${isOpen ? " open" : ""}`} key={p.pattern_id} data-testid="pattern-row" data-pattern-id={p.pattern_id}>
                  <div class="pattern-main">
                    <div class="pattern-text">
                      <Template text={p.pattern} />
                    </div>
                    <div class="pattern-meta">
                      {p.level && <LevelBadge level={p.level} />}
                      {p.source && <span class="tag">{p.source}</span>}
                      <code class="muted">{p.pattern_id}</code>
                      <button
                        type="button"
                        class="link"
                        aria-expanded={isOpen}
                        onClick={() => setOpen(isOpen ? null : p.pattern_id)}
                        data-testid="pattern-samples-toggle"
                      >
                        {isOpen ? "hide samples" : `${samples.length} sample${samples.length === 1 ? "" : "s"}`}
                      </button>
                    </div>
                  </div>
                  <div class="num pattern-count" data-testid="pattern-count">
                    <span class="cell-label">Count </span>
                    {fmtInt(p.count)}
                  </div>
                  <div class="pattern-spark">
                    <Sparkline
                      values={series[p.pattern_id]}
                      testid="pattern-sparkline"
                      title={series[p.pattern_id] ? `${fmtInt((series[p.pattern_id] ?? []).reduce((a, b) => a + b, 0))} events in the last 24 hours, per hour` : undefined}
                    />
                  </div>
                  <div class="pattern-seen">
                    <div title={fmtDateTime(p.last_seen)}>
                      <span class="muted">last</span> {fmtAgo(p.last_seen, now)}
                    </div>
                    <div title={fmtDateTime(p.first_seen)}>
                      <span class="muted">first</span> {fmtAgo(p.first_seen, now)}
                    </div>
                  </div>
                  <div class={`pattern-insight${p.insight ? "" : " no-insight"}`}>{p.insight ? <InsightView insight={p.insight} /> : <span class="muted">–</span>}</div>
                  {isOpen && (
                    <div class="pattern-samples" data-testid="pattern-samples">
                      {samples.length === 0 ? (
                        <span class="muted">No samples kept.</span>
                      ) : (
                        <ul>
                          {samples.map((s, i) => (
                            <li key={i}>
                              <code>{s}</code>
                            </li>
                          ))}
                        </ul>
                      )}
                      <Link href={`/explore?q=${encodeURIComponent(literal(p.pattern))}`}>Find matching events in Explore</Link>
                    </div>
                  )}
                </li>
              );
            })}
          </ul>
        )}
      </div>
    </div>
  );
}

// Explore: stored history from /api/v1/logs, filtered by levels, source, time window and text,
// page by page with the total count. Every filter and the page live in the query string, so a
// view can be shared and a reload restores it.

import { useState } from "preact/hooks";
import { api } from "../api";
import { ErrorBanner } from "../components/ErrorBanner";
import { EventDetails } from "../components/EventDetails";
import { LevelPicker, TextFilter } from "../components/Filters";
import { LevelBadge } from "../components/LevelBadge";
import { PAGE_SIZES, Pager } from "../components/Pager";
import { fmtClock, fmtDateTime, shortId } from "../format";
import { useLoad } from "../hooks";
import { setQuery, useQuery } from "../router";
import { LEVELS } from "../types";

const PRESETS = [
  { since: "15m", label: "15m" },
  { since: "1h", label: "1h" },
  { since: "24h", label: "24h" },
  { since: "7d", label: "7d" },
  { since: "", label: "All" },
];

/** An RFC 3339 time, or a span back from now such as `90m` (what the API accepts). */
function validTime(text: string): boolean {
  return text === "" || /^\d+(ms|s|m|h|d|w)$/.test(text) || (/^\d{4}-\d\d-\d\d/.test(text) && !Number.isNaN(Date.parse(text)));
}

function positive(text: string | null, fallback: number): number {
  const n = Number(text);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

function dateOf(ts: string): string {
  return fmtDateTime(ts).slice(0, 10);
}

export function Explore() {
  const query = useQuery();
  const levels = LEVELS.filter((l) => (query.get("levels") ?? "").toUpperCase().split(",").includes(l));
  const source = query.get("source") ?? "";
  const q = query.get("q") ?? "";
  const since = query.get("since") ?? "";
  const until = query.get("until") ?? "";
  const size = PAGE_SIZES.includes(positive(query.get("size"), 50)) ? positive(query.get("size"), 50) : 50;
  const page = positive(query.get("page"), 1) - 1;
  const custom = until !== "" || (since !== "" && !PRESETS.some((p) => p.since === since)) || query.get("range") === "custom";

  const [openId, setOpenId] = useState<string | null>(null);
  const [customSince, setCustomSince] = useState(since);
  const [customUntil, setCustomUntil] = useState(until);
  const [timeError, setTimeError] = useState("");

  const logs = useLoad(
    (signal) =>
      api.logs(
        {
          limit: size,
          offset: page * size,
          levels: levels.length > 0 ? levels.join(",") : undefined,
          source: source || undefined,
          since: since || undefined,
          until: until || undefined,
          q: q || undefined,
        },
        signal,
      ),
    [levels.join(","), source, q, since, until, size, page],
  );

  /** A filter change starts again at the first page. */
  const setFilter = (changes: Record<string, string | undefined>) => setQuery({ ...changes, page: undefined });

  const applyCustom = () => {
    const s = customSince.trim();
    const u = customUntil.trim();
    if (!validTime(s) || !validTime(u)) {
      setTimeError("Use an RFC 3339 time (2026-05-01T12:00:00Z) or a span back from now (90m, 2h, 3d).");
      return;
    }
    setTimeError("");
    setFilter({ since: s || undefined, until: u || undefined, range: "custom" });
  };

  const rows = logs.data?.rows ?? [];
  const total = logs.data?.total ?? 0;

  return (
    <div class="page page-explore">
      <div class="page-head">
        <h1>Explore</h1>
        <button type="button" class="btn btn-small" onClick={logs.reload} data-testid="explore-refresh">
          Refresh
        </button>
      </div>

      <div class="toolbar">
        <LevelPicker value={levels} onChange={(l) => setFilter({ levels: l.join(",") || undefined })} testid="explore" />
        <TextFilter label="Source" value={source} onCommit={(v) => setFilter({ source: v || undefined })} placeholder="exact source" testid="explore-source" />
        <TextFilter label="Text" value={q} onCommit={(v) => setFilter({ q: v || undefined })} placeholder="message contains…" testid="explore-q" wide />
      </div>
      <div class="toolbar toolbar-range">
        <div class="seg" role="group" aria-label="Time window">
          {PRESETS.map((p) => (
            <button
              type="button"
              key={p.label}
              class={`seg-btn${!custom && since === p.since ? " on" : ""}`}
              aria-pressed={!custom && since === p.since}
              onClick={() => {
                setCustomSince(p.since);
                setCustomUntil("");
                setFilter({ since: p.since || undefined, until: undefined, range: undefined });
              }}
              data-testid={`explore-range-${p.label.toLowerCase()}`}
            >
              {p.label}
            </button>
          ))}
          <button
            type="button"
            class={`seg-btn${custom ? " on" : ""}`}
            aria-pressed={custom}
            onClick={() => setQuery({ range: "custom" })}
            data-testid="explore-range-custom"
          >
            Custom
          </button>
        </div>
        {custom && (
          <form
            class="custom-range"
            onSubmit={(e) => {
              e.preventDefault();
              applyCustom();
            }}
          >
            <label class="field">
              <span class="field-label">Since</span>
              <input
                class="input mono"
                value={customSince}
                placeholder="2026-05-01T12:00:00Z or 2h"
                onInput={(e) => setCustomSince((e.currentTarget as HTMLInputElement).value)}
                data-testid="explore-since"
              />
            </label>
            <label class="field">
              <span class="field-label">Until</span>
              <input
                class="input mono"
                value={customUntil}
                placeholder="now"
                onInput={(e) => setCustomUntil((e.currentTarget as HTMLInputElement).value)}
                data-testid="explore-until"
              />
            </label>
            <button type="submit" class="btn" data-testid="explore-apply">
              Apply
            </button>
            {timeError && (
              <span class="field-error" role="alert">
                {timeError}
              </span>
            )}
          </form>
        )}
      </div>

      <ErrorBanner error={logs.error} what="the history" onRetry={logs.reload} />

      <div class="panel panel-flush">
        <Pager
          page={page}
          size={size}
          total={total}
          shown={rows.length}
          loading={logs.loading}
          onPage={(p) => setQuery({ page: p > 0 ? p + 1 : undefined })}
          onSize={(s) => setQuery({ size: s, page: undefined })}
          testid="explore"
        />
        <div class="log-head" aria-hidden="true">
          <span class="c-time c-time-wide">Time</span>
          <span class="c-level">Level</span>
          <span class="c-source">Source</span>
          <span class="c-message">Message</span>
          <span class="c-session">Pattern</span>
        </div>
        {rows.length === 0 && !logs.loading ? (
          <div class="empty" data-testid="explore-empty">
            {logs.error ? "Nothing to show." : "No stored events match these filters."}
          </div>
        ) : (
          <ul class="log-list" data-testid="explore-list">
            {rows.map((r) => {
              const key = String(r.id);
              const open = openId === key;
              return (
                <li class={`log-row${open ? " open" : ""}`} key={key} data-testid="explore-row" data-id={key} data-level={r.level} data-source={r.source ?? ""}>
                  <div
                    class="log-line"
                    role="button"
                    tabIndex={0}
                    aria-expanded={open}
                    onClick={() => setOpenId(open ? null : key)}
                    onKeyDown={(ev) => {
                      if (ev.key === "Enter" || ev.key === " ") {
                        ev.preventDefault();
                        setOpenId(open ? null : key);
                      }
                    }}
                  >
                    <span class="c-time c-time-wide" title={r.timestamp}>
                      <span class="muted date">{dateOf(r.timestamp)}</span> {fmtClock(r.timestamp)}
                    </span>
                    <span class="c-level">
                      <LevelBadge level={r.level} />
                    </span>
                    <span class="c-source" title={r.source ?? ""}>
                      {r.source ?? "–"}
                    </span>
                    <span class="c-message">{r.message}</span>
                    <span class="c-session mono muted" title={r.pattern_id ?? ""}>
                      {r.pattern_id ? shortId(r.pattern_id, 8) : ""}
                    </span>
                  </div>
                  {open && (
                    <div data-testid="explore-details">
                      <EventDetails event={r} />
                    </div>
                  )}
                </li>
              );
            })}
          </ul>
        )}
        {rows.length > 0 && (
          <Pager
            page={page}
            size={size}
            total={total}
            shown={rows.length}
            onPage={(p) => {
              setQuery({ page: p > 0 ? p + 1 : undefined });
              window.scrollTo(0, 0);
            }}
            testid="explore-bottom"
          />
        )}
      </div>
    </div>
  );
}

// Live: the websocket tail of events, newest on top. Level, source, text and session filters are
// applied by the server (changing one reconnects with the new query), and again to the rows
// already shown. Pause holds new events back and counts them; resume shows them. A session id
// (typed, or clicked in a row) switches to that session: the server sends its recent lines first.

import { Component } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { EventDetails } from "../components/EventDetails";
import { LevelPicker, TextFilter } from "../components/Filters";
import { LevelBadge } from "../components/LevelBadge";
import { Notice } from "../components/ErrorBanner";
import { fmtClock, fmtInt } from "../format";
import { setQuery, useQuery } from "../router";
import { Tail, tailUrl, type TailMessage, type TailQuery, type TailStatus } from "../tail";
import { LEVELS, type LiveEvent } from "../types";

/** Rows kept on screen; older ones fall off the bottom. */
const MAX_ROWS = 500;
/** New events are drawn in batches at most this often. */
const FLUSH_MS = 50;
/** The events-per-second readout averages this many one-second samples. */
const EPS_WINDOW = 3;

interface Filter {
  levels: string[];
  source: string;
  q: string;
  session: string;
}

function matches(e: LiveEvent, f: Filter): boolean {
  return (
    (f.levels.length === 0 || f.levels.includes(e.level)) &&
    (!f.source || e.source === f.source) &&
    (!f.session || e.session_id === f.session) &&
    (!f.q || e.message.toLowerCase().includes(f.q.toLowerCase()))
  );
}

function parseLevels(text: string | null): string[] {
  const wanted = (text ?? "").split(",").map((l) => l.trim().toUpperCase());
  return LEVELS.filter((l) => wanted.includes(l));
}

/** Newest first, without duplicates, at most MAX_ROWS. */
function merge(newestFirst: LiveEvent[], rows: LiveEvent[]): LiveEvent[] {
  const seen = new Set<string>();
  const out: LiveEvent[] = [];
  for (const list of [newestFirst, rows]) {
    for (const e of list) {
      if (out.length >= MAX_ROWS) return out;
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      out.push(e);
    }
  }
  return out;
}

interface RowProps {
  event: LiveEvent;
  open: boolean;
  onToggle: (id: string) => void;
  onSession: (session: string) => void;
}

/** One event; redrawn only when it or its expansion changes, so a busy stream stays cheap. */
class Row extends Component<RowProps> {
  override shouldComponentUpdate(next: RowProps): boolean {
    return next.event !== this.props.event || next.open !== this.props.open;
  }

  override render({ event: e, open, onToggle, onSession }: RowProps) {
    return (
      <li class={`log-row${open ? " open" : ""}`} data-testid="live-row" data-level={e.level} data-source={e.source ?? ""} data-id={e.id}>
        <div
          class="log-line"
          role="button"
          tabIndex={0}
          aria-expanded={open}
          onClick={() => onToggle(e.id)}
          onKeyDown={(ev) => {
            if (ev.key === "Enter" || ev.key === " ") {
              ev.preventDefault();
              onToggle(e.id);
            }
          }}
        >
          <span class="c-time" title={e.timestamp}>
            {fmtClock(e.timestamp)}
          </span>
          <span class="c-level">
            <LevelBadge level={e.level} />
          </span>
          <span class="c-source" title={e.source ?? ""}>
            {e.source ?? "–"}
          </span>
          <span class="c-message" data-testid="live-message">
            {e.message}
          </span>
          <span class="c-session">
            {e.session_id && (
              <button
                type="button"
                class="link session-link"
                title={`Show session ${e.session_id}`}
                onClick={(ev) => {
                  ev.stopPropagation();
                  onSession(e.session_id ?? "");
                }}
                data-testid="live-session-link"
              >
                {e.session_id}
              </button>
            )}
          </span>
        </div>
        {open && <EventDetails event={e} onSession={onSession} />}
      </li>
    );
  }
}

export function Live() {
  const query = useQuery();
  const filter: Filter = useMemo(
    () => ({
      levels: parseLevels(query.get("levels")),
      source: query.get("source") ?? "",
      q: query.get("q") ?? "",
      session: query.get("session") ?? "",
    }),
    [query.toString()],
  );
  const filterKey = JSON.stringify(filter);

  const [rows, setRows] = useState<LiveEvent[]>([]);
  const [status, setStatus] = useState<{ status: TailStatus; detail: string; url: string }>({ status: "connecting", detail: "", url: "" });
  const [paused, setPaused] = useState(false);
  const [held, setHeld] = useState(0);
  const [eps, setEps] = useState(0);
  const [missed, setMissed] = useState(0);
  const [openId, setOpenId] = useState<string | null>(null);

  const filterRef = useRef(filter);
  filterRef.current = filter;
  const pausedRef = useRef(false);
  const incoming = useRef<LiveEvent[]>([]);
  const heldRef = useRef<{ events: LiveEvent[]; count: number }>({ events: [], count: 0 });
  const flushTimer = useRef<number | undefined>(undefined);
  const counted = useRef(0);

  // Moves what arrived to the screen (or, while paused, to the held-back list).
  const flush = () => {
    flushTimer.current = undefined;
    const batch = incoming.current.filter((e) => matches(e, filterRef.current)).reverse();
    incoming.current = [];
    if (batch.length === 0) return;
    if (pausedRef.current) {
      const h = heldRef.current;
      h.events = merge(batch, h.events);
      h.count += batch.length;
      setHeld(h.count);
    } else {
      setRows((r) => merge(batch, r));
    }
  };

  useEffect(() => {
    // The rows already shown that the new filter still admits stay.
    setRows((r) => r.filter((e) => matches(e, filter)));
    heldRef.current.events = heldRef.current.events.filter((e) => matches(e, filter));
    setMissed(0);
    const tailQuery: TailQuery = {
      topics: ["logs"],
      levels: filter.levels,
      source: filter.source || undefined,
      q: filter.q || undefined,
      session: filter.session || undefined,
    } as TailQuery;
    const target = tailUrl(tailQuery);
    const onMessage = (m: TailMessage) => {
      if (m.topic === "logs") {
        const e = m.payload as LiveEvent;
        if (!e || typeof e.id !== "string") return;
        incoming.current.push(e);
        counted.current += 1;
        if (incoming.current.length > MAX_ROWS * 2) incoming.current.splice(0, incoming.current.length - MAX_ROWS);
        if (flushTimer.current === undefined) flushTimer.current = window.setTimeout(flush, FLUSH_MS);
      } else if (m.topic === "lagged") {
        const n = Number((m.payload as { missed?: number } | null)?.missed ?? 0);
        setMissed((x) => x + (Number.isFinite(n) ? n : 0));
      }
    };
    const tail = new Tail(tailQuery, {
      onMessage,
      onStatus: (s, detail) => setStatus({ status: s, detail, url: target }),
    });
    return () => {
      tail.close();
      window.clearTimeout(flushTimer.current);
      flush();
    };
  }, [filterKey]);

  // Events per second, averaged over the last few seconds.
  useEffect(() => {
    const samples: number[] = [];
    let last = performance.now();
    const t = window.setInterval(() => {
      const now = performance.now();
      samples.push((counted.current * 1000) / Math.max(1, now - last));
      counted.current = 0;
      last = now;
      if (samples.length > EPS_WINDOW) samples.shift();
      setEps(samples.reduce((a, b) => a + b, 0) / samples.length);
    }, 1000);
    return () => window.clearInterval(t);
  }, []);

  const pause = () => {
    pausedRef.current = true;
    setPaused(true);
  };
  const resume = () => {
    flush();
    pausedRef.current = false;
    const h = heldRef.current;
    setRows((r) => merge(h.events, r));
    heldRef.current = { events: [], count: 0 };
    setHeld(0);
    setPaused(false);
  };

  const setFilter = (changes: Partial<Record<keyof Filter, string>>) => setQuery(changes);
  const onSession = (session: string) => setFilter({ session });
  const onToggle = (id: string) => setOpenId((cur) => (cur === id ? null : id));

  const statusText =
    status.status === "open" ? (paused ? "paused" : "live") : status.status === "connecting" ? "connecting…" : status.status === "reconnecting" ? "reconnecting…" : "closed";

  return (
    <div class="page page-live">
      <div class="page-head">
        <h1>Live</h1>
        <div class="live-meters">
          <span
            class={`conn conn-${status.status}${paused ? " conn-paused" : ""}`}
            title={status.detail || status.url}
            data-testid="live-status"
            data-status={status.status}
            data-url={status.url}
          >
            <span class="dot" />
            {statusText}
          </span>
          <span class="meter" title="Events per second received (matching the filters)">
            <strong data-testid="eps" data-eps={eps.toFixed(2)}>
              {eps < 10 ? eps.toFixed(1) : fmtInt(Math.round(eps))}
            </strong>{" "}
            ev/s
          </span>
          <span class="meter muted" data-testid="live-count">
            {fmtInt(rows.length)} shown
          </span>
        </div>
      </div>

      <div class="toolbar">
        <LevelPicker value={filter.levels} onChange={(levels) => setFilter({ levels: levels.join(",") })} testid="live" />
        <TextFilter label="Source" value={filter.source} onCommit={(source) => setFilter({ source })} placeholder="exact source" testid="live-source" />
        <TextFilter label="Session" value={filter.session} onCommit={(session) => setFilter({ session })} placeholder="session id" testid="live-session" />
        <TextFilter label="Text" value={filter.q} onCommit={(q) => setFilter({ q })} placeholder="message contains…" testid="live-q" wide />
        <div class="toolbar-actions">
          {paused ? (
            <button type="button" class="btn btn-primary" onClick={resume} data-testid="live-resume">
              Resume
            </button>
          ) : (
            <button type="button" class="btn" onClick={pause} data-testid="live-pause">
              Pause
            </button>
          )}
          <button type="button" class="btn" onClick={() => setRows([])} data-testid="live-clear" title="Empty the list">
            Clear
          </button>
        </div>
      </div>

      {filter.session && (
        <Notice kind="info" testid="live-session-banner">
          Session <code>{filter.session}</code>: its recent events first, then new ones as they arrive.{" "}
          <button type="button" class="link" onClick={() => setFilter({ session: "" })} data-testid="live-session-clear">
            Leave session
          </button>
        </Notice>
      )}
      {paused && (
        <button type="button" class="new-events" onClick={resume} data-testid="live-new" data-count={held}>
          {held === 0 ? "Paused: new events wait here" : `${fmtInt(held)} new ${held === 1 ? "event" : "events"}${held > MAX_ROWS ? ` (newest ${MAX_ROWS} kept)` : ""}: resume`}
        </button>
      )}
      {missed > 0 && (
        <Notice kind="warn" testid="live-lagged">
          The browser fell behind the stream: {fmtInt(missed)} events were skipped.
        </Notice>
      )}
      {status.status === "reconnecting" && (
        <Notice kind="warn" testid="live-reconnecting">
          Live stream disconnected: {status.detail}
        </Notice>
      )}

      <div class="panel panel-flush">
        <div class="log-head" aria-hidden="true">
          <span class="c-time">Time</span>
          <span class="c-level">Level</span>
          <span class="c-source">Source</span>
          <span class="c-message">Message</span>
          <span class="c-session">Session</span>
        </div>
        {rows.length === 0 ? (
          <div class="empty" data-testid="live-empty">
            {status.status === "open" ? "Waiting for events that match the filters…" : "Connecting to the live stream…"}
          </div>
        ) : (
          <ul class="log-list" data-testid="live-list">
            {rows.map((e) => (
              <Row key={e.id} event={e} open={openId === e.id} onToggle={onToggle} onSession={onSession} />
            ))}
          </ul>
        )}
      </div>
      <p class="footnote muted">Newest first; the newest {MAX_ROWS} events are kept. Click a row for its details.</p>
    </div>
  );
}

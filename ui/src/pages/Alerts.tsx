// Alerts: those stored (/api/v1/alerts, newest first, by severity and page) and those arriving
// live on the tail's `alerts` topic. "Open" means fired within the last hour; older ones are
// "recent". Each alert expands to the events that triggered it.

import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { ErrorBanner } from "../components/ErrorBanner";
import { LevelBadge, SeverityBadge } from "../components/LevelBadge";
import { PAGE_SIZES, Pager } from "../components/Pager";
import { Template } from "../components/Template";
import { fmtAgo, fmtClock, fmtDateTime } from "../format";
import { useLoad, useNow } from "../hooks";
import { setQuery, useQuery } from "../router";
import { Tail, type TailStatus } from "../tail";
import { SEVERITIES, type AlertRow, type LiveAlert } from "../types";

const OPEN_MS = 60 * 60 * 1000;
const MAX_LIVE = 200;

function fromLive(a: LiveAlert): AlertRow {
  const firedMs = typeof a.fired_ns === "number" ? a.fired_ns / 1e6 : Date.now();
  return {
    id: a.id ?? `live-${firedMs}-${a.rule ?? ""}-${a.key ?? ""}`,
    stage: typeof a.stage === "string" ? a.stage : "",
    rule: a.rule ?? "unnamed",
    kind: a.kind ?? "unknown",
    severity: a.severity ?? "warning",
    title: a.title ?? a.rule ?? "alert",
    message: a.message ?? "",
    key: a.key ?? "",
    source: a.source ?? null,
    pattern_id: a.pattern_id ?? null,
    fired_at: new Date(firedMs).toISOString(),
    event_ids: Array.isArray(a.event_ids) ? a.event_ids : [],
    alert: a,
  };
}

function positive(text: string | null, fallback: number): number {
  const n = Number(text);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

function TriggeringEvents({ ids }: { ids: string[] }) {
  const events = useLoad((signal) => api.logs({ ids: ids.join(","), limit: ids.length }, signal), [ids.join(",")]);
  if (ids.length === 0) return <div class="muted">This alert names no events (an absence or a rule without samples).</div>;
  const rows = events.data?.rows ?? [];
  return (
    <div class="alert-events" data-testid="alert-events">
      <ErrorBanner error={events.error} what="the triggering events" onRetry={events.reload} />
      {events.loading && rows.length === 0 ? (
        <div class="muted">Loading the {ids.length} triggering events…</div>
      ) : (
        <>
          <div class="details-title">
            Triggering events ({rows.length} of {ids.length} found)
            {rows.length < ids.length && (
              <button type="button" class="link" onClick={events.reload}>
                {" "}
                look again
              </button>
            )}
          </div>
          <ul class="mini-log">
            {rows.map((r) => (
              <li key={String(r.id)} data-testid="alert-event">
                <span class="c-time" title={r.timestamp}>
                  {fmtClock(r.timestamp)}
                </span>
                <LevelBadge level={r.level} />
                <span class="c-source">{r.source ?? "–"}</span>
                <span class="c-message">{r.message}</span>
              </li>
            ))}
          </ul>
          {rows.length < ids.length && (
            <div class="muted">Events not found may still be on their way to the store, or were removed by retention.</div>
          )}
        </>
      )}
    </div>
  );
}

function AlertItem({ a, now, live }: { a: AlertRow; now: number; live: boolean }) {
  const [open, setOpen] = useState(false);
  const ids = Array.isArray(a.event_ids) ? a.event_ids : [];
  const template = typeof a.alert?.template === "string" ? a.alert.template : null;
  return (
    <li class={`alert-item sev-${a.severity}${open ? " open" : ""}`} data-testid="alert-row" data-severity={a.severity} data-rule={a.rule}>
      <div
        class="alert-line"
        role="button"
        tabIndex={0}
        aria-expanded={open}
        onClick={() => setOpen(!open)}
        onKeyDown={(ev) => {
          if (ev.key === "Enter" || ev.key === " ") {
            ev.preventDefault();
            setOpen(!open);
          }
        }}
      >
        <SeverityBadge severity={a.severity} />
        <div class="alert-body">
          <div class="alert-title">
            <strong>{a.title}</strong>
            {live && <span class="tag tag-live">live</span>}
          </div>
          <div class="alert-message">{a.message}</div>
          <div class="alert-meta muted">
            <span>
              rule <code>{a.rule}</code>
            </span>
            <span>{a.kind}</span>
            {a.stage && <span>stage {a.stage}</span>}
            {a.source && <span>source {a.source}</span>}
            <span>{ids.length === 1 ? "1 event" : `${ids.length} events`}</span>
          </div>
        </div>
        <div class="alert-time" title={a.fired_at}>
          <div>{fmtAgo(a.fired_at, now)}</div>
          <div class="muted">{fmtDateTime(a.fired_at)}</div>
        </div>
      </div>
      {open && (
        <div class="details">
          <dl class="kv">
            <dt>id</dt>
            <dd>
              <code>{a.id}</code>
            </dd>
            {a.key && (
              <>
                <dt>key</dt>
                <dd>
                  <code>{a.key}</code>
                </dd>
              </>
            )}
            {a.pattern_id && (
              <>
                <dt>pattern</dt>
                <dd>
                  <code>{a.pattern_id}</code> {template && <Template text={template} />}
                </dd>
              </>
            )}
            <dt>fired at</dt>
            <dd>{a.fired_at}</dd>
          </dl>
          <TriggeringEvents ids={ids} />
        </div>
      )}
    </li>
  );
}

export function Alerts() {
  const query = useQuery();
  const severityParam = query.get("severity") ?? "";
  const severity = (SEVERITIES as readonly string[]).includes(severityParam) ? severityParam : "";
  const size = PAGE_SIZES.includes(positive(query.get("size"), 50)) ? positive(query.get("size"), 50) : 50;
  const page = positive(query.get("page"), 1) - 1;
  const now = useNow(15_000);

  const stored = useLoad((signal) => api.alerts(size, page * size, severity || undefined, signal), [size, page, severity], 15_000);
  const [live, setLive] = useState<AlertRow[]>([]);
  const [tailStatus, setTailStatus] = useState<TailStatus>("connecting");

  useEffect(() => {
    const tail = new Tail(
      { topics: ["alerts"] },
      {
        onMessage: (m) => {
          if (m.topic !== "alerts" || !m.payload || typeof m.payload !== "object") return;
          const row = fromLive(m.payload as LiveAlert);
          setLive((l) => [row, ...l.filter((x) => x.id !== row.id)].slice(0, MAX_LIVE));
        },
        onStatus: (s) => setTailStatus(s),
      },
    );
    return () => tail.close();
  }, []);

  const storedRows = stored.data?.rows ?? [];
  const storedIds = new Set(storedRows.map((r) => r.id));
  const liveRows = page === 0 ? live.filter((a) => !storedIds.has(a.id) && (!severity || a.severity === severity)) : [];
  const all = [...liveRows, ...storedRows];
  const openRows = all.filter((a) => now - Date.parse(a.fired_at) < OPEN_MS);
  const recentRows = all.filter((a) => !(now - Date.parse(a.fired_at) < OPEN_MS));
  const liveIds = new Set(liveRows.map((a) => a.id));

  return (
    <div class="page page-alerts">
      <div class="page-head">
        <h1>Alerts</h1>
        <span class={`conn conn-${tailStatus}`} data-testid="alerts-live-status" data-status={tailStatus} title="New alerts arrive on the live stream">
          <span class="dot" />
          {tailStatus === "open" ? "live" : tailStatus === "closed" ? "closed" : "connecting…"}
        </span>
      </div>
      <div class="toolbar">
        <div class="seg" role="group" aria-label="Severity">
          {["", ...SEVERITIES].map((s) => (
            <button
              type="button"
              key={s || "all"}
              class={`seg-btn${severity === s ? " on" : ""}`}
              aria-pressed={severity === s}
              onClick={() => setQuery({ severity: s || undefined, page: undefined })}
              data-testid={`alerts-severity-${s || "all"}`}
            >
              {s || "all"}
            </button>
          ))}
        </div>
      </div>
      <ErrorBanner error={stored.error} what="the alerts" onRetry={stored.reload} />
      <div class="panel panel-flush">
        <Pager
          page={page}
          size={size}
          total={stored.data?.total ?? 0}
          shown={storedRows.length}
          loading={stored.loading}
          onPage={(p) => setQuery({ page: p > 0 ? p + 1 : undefined })}
          onSize={(s) => setQuery({ size: s, page: undefined })}
          testid="alerts"
        />
      </div>

      <section class="panel" data-testid="alerts-open">
        <div class="panel-title">
          Open <span class="muted">— fired in the last hour</span>
          <span class="count">{openRows.length}</span>
        </div>
        {openRows.length === 0 ? (
          <div class="empty">{stored.loading && !stored.data ? "Loading…" : "No alert fired in the last hour."}</div>
        ) : (
          <ul class="alert-list">
            {openRows.map((a) => (
              <AlertItem key={a.id} a={a} now={now} live={liveIds.has(a.id)} />
            ))}
          </ul>
        )}
      </section>

      <section class="panel" data-testid="alerts-recent">
        <div class="panel-title">
          Recent <span class="muted">— fired more than an hour ago</span>
          <span class="count">{recentRows.length}</span>
        </div>
        {recentRows.length === 0 ? (
          <div class="empty">Nothing older on this page.</div>
        ) : (
          <ul class="alert-list">
            {recentRows.map((a) => (
              <AlertItem key={a.id} a={a} now={now} live={liveIds.has(a.id)} />
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}

// The expanded view of one event (stored or live): its fields, attributes, pattern, insight and
// the raw input line.

import type { ComponentChildren } from "preact";
import { fmtDateTime } from "../format";
import type { Insight, LiveEvent, LogRow } from "../types";
import { SeverityBadge } from "./LevelBadge";
import { Link } from "./Link";
import { Template } from "./Template";

function Field({ name, children }: { name: string; children: ComponentChildren }) {
  return (
    <>
      <dt>{name}</dt>
      <dd>{children}</dd>
    </>
  );
}

function value(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

export function InsightView({ insight }: { insight: Insight | null | undefined }) {
  if (!insight || typeof insight !== "object") return null;
  return (
    <div class="insight" data-testid="insight">
      <div class="insight-head">
        <SeverityBadge severity={insight.severity ?? "info"} />
        <span class="insight-summary">{insight.summary ?? "(no summary)"}</span>
      </div>
      {typeof insight.cause === "string" && insight.cause && (
        <div class="insight-action">
          <span class="muted">Likely cause:</span> {insight.cause}
        </div>
      )}
      {insight.action && (
        <div class="insight-action">
          <span class="muted">Action:</span> {insight.action}
        </div>
      )}
      <div class="insight-meta muted">
        {insight.source && <span>source: {insight.source}</span>}
        {insight.novel !== undefined && <span>novel: {insight.novel ? "yes" : "no"}</span>}
        {insight.fallback_reason && <span>{insight.fallback_reason}</span>}
      </div>
    </div>
  );
}

interface Props {
  event: LogRow | LiveEvent;
  onSession?: (session: string) => void;
}

export function EventDetails({ event, onSession }: Props) {
  const stored = "event_id" in event ? event : null;
  const live = stored ? null : (event as LiveEvent);
  const patternId = stored ? stored.pattern_id : live?.pattern?.id ?? null;
  const attributes = Object.entries(event.attributes ?? {});
  const where = [event.module, event.function, event.file && `${event.file}${event.line ? `:${event.line}` : ""}`].filter(Boolean).join(" · ");
  return (
    <div class="details" data-testid="event-details">
      <dl class="kv">
        <Field name="event id">
          <code>{stored ? stored.event_id : event.id}</code>
        </Field>
        <Field name="timestamp">{fmtDateTime(event.timestamp)} <span class="muted">({event.timestamp})</span></Field>
        {stored && <Field name="received">{fmtDateTime(stored.received_at)}</Field>}
        {where && <Field name="code">{where}</Field>}
        {event.input && <Field name="input">{event.input}</Field>}
        {event.topic && <Field name="topic">{event.topic}</Field>}
        {event.user_id && <Field name="user">{event.user_id}</Field>}
        {event.session_id && (
          <Field name="session">
            {onSession ? (
              <button type="button" class="link" onClick={() => onSession(event.session_id ?? "")} data-testid="details-session">
                {event.session_id}
              </button>
            ) : (
              <Link href={`/live?session=${encodeURIComponent(event.session_id)}`} testid="details-session">
                {event.session_id}
              </Link>
            )}
          </Field>
        )}
        {event.trace_id && (
          <Field name="trace">
            <code>{event.trace_id}</code>
          </Field>
        )}
        {patternId && (
          <Field name="pattern">
            <code>{patternId}</code>
            {live?.pattern?.template && (
              <>
                {" "}
                <Template text={live.pattern.template} />
              </>
            )}
          </Field>
        )}
      </dl>
      {attributes.length > 0 && (
        <div class="details-block">
          <div class="details-title">Attributes</div>
          <dl class="kv kv-attrs" data-testid="details-attributes">
            {attributes.map(([k, v]) => (
              <Field name={k} key={k}>
                <code>{value(v)}</code>
              </Field>
            ))}
          </dl>
        </div>
      )}
      {event.insight && (
        <div class="details-block">
          <div class="details-title">Insight</div>
          <InsightView insight={event.insight} />
        </div>
      )}
    </div>
  );
}

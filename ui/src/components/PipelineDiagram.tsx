// The pipeline drawn as inputs → stages → outputs: boxes joined by arrows, each with its
// cumulative counter and the rate measured between the last two polls.

import { Fragment } from "preact";
import { fmtBytes, fmtCompact, fmtRate, shortId } from "../format";
import type { Pipeline } from "../types";

export type Rates = Record<string, number | undefined>;

function Arrow() {
  return (
    <div class="pipe-arrow" aria-hidden="true">
      <svg viewBox="0 0 32 16" width="32" height="16">
        <path d="M1 8h26" stroke="currentColor" stroke-width="2" />
        <path d="M22 3l7 5-7 5" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round" />
      </svg>
    </div>
  );
}

function Rate({ value }: { value: number | undefined }) {
  return <span class={`pipe-rate${value && value > 0 ? " flowing" : ""}`}>{fmtRate(value)}</span>;
}

export function PipelineDiagram({ pipeline, rates }: { pipeline: Pipeline; rates: Rates }) {
  return (
    <div class="pipeline" data-testid="pipeline-diagram">
      <div class="pipe-col">
        <div class="pipe-col-title">Inputs</div>
        {pipeline.inputs.length === 0 && <div class="pipe-node muted">none</div>}
        {pipeline.inputs.map((i) => (
          <div class="pipe-node pipe-input" key={i.name} data-testid={`pipe-input-${i.name}`}>
            <div class="pipe-name">{i.name}</div>
            <div class="pipe-kind">{i.kind}</div>
            <div class="pipe-counts">
              <span title="events received">{fmtCompact(i.events)}</span>
              <Rate value={rates[`in:${i.name}`]} />
            </div>
          </div>
        ))}
      </div>
      <Arrow />
      {pipeline.stages.map((s) => (
        <Fragment key={s.name}>
          <div class="pipe-node pipe-stage" data-testid={`pipe-stage-${s.name}`}>
            <div class="pipe-name">{s.name}</div>
            <div class="pipe-kind" title={`guest ${s.guest} version ${s.active}`}>
              {s.guest} <code>{shortId(s.active, 6)}</code>
            </div>
            <div class="pipe-counts">
              <span title="events in / out">
                {fmtCompact(s.events_in)} → {fmtCompact(s.events_out)}
              </span>
              <Rate value={rates[`stage:${s.name}`]} />
            </div>
            {s.failed > 0 && <div class="pipe-failed">{fmtCompact(s.failed)} failed</div>}
          </div>
          <Arrow />
        </Fragment>
      ))}
      <div class="pipe-col">
        <div class="pipe-col-title">Outputs</div>
        {pipeline.outputs.length === 0 && <div class="pipe-node muted">none</div>}
        {pipeline.outputs.map((o) => (
          <div class={`pipe-node pipe-output${o.last_error ? " pipe-error" : ""}`} key={o.name} data-testid={`pipe-output-${o.name}`}>
            <div class="pipe-name">
              {o.name}
              {o.durable && (
                <span class="tag" title="acknowledged only once stored">
                  durable
                </span>
              )}
            </div>
            <div class="pipe-kind">{o.kind}</div>
            <div class="pipe-counts">
              <span title="events written">{fmtCompact(o.events)}</span>
              <Rate value={rates[`out:${o.name}`]} />
            </div>
            {((o.pending_bytes ?? 0) > 0 || o.waiting) && (
              <div class="pipe-pending">
                {o.waiting ? "waiting · " : ""}
                {fmtBytes(o.pending_bytes)} pending
              </div>
            )}
            {o.last_error && (
              <div class="pipe-failed" title={o.last_error}>
                {o.last_error}
              </div>
            )}
          </div>
        ))}
      </div>
    </div>
  );
}

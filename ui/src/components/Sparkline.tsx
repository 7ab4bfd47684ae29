// A tiny inline SVG chart of a series (a pattern's volume per bucket).
//
// Hand-drawn rather than a uPlot chart: the Patterns table has one per row, and a canvas chart
// instance per row (its own canvas, DOM, resize observer and event handlers) would be heavy for
// a few dozen dots of ink; a polyline costs next to nothing and scales with the page's zoom.

import { fmtInt } from "../format";

interface Props {
  values: number[] | undefined;
  width?: number;
  height?: number;
  title?: string;
  testid?: string;
}

export function Sparkline({ values, width = 120, height = 26, title, testid }: Props) {
  if (!values || values.length === 0) {
    return <span class="sparkline sparkline-empty" data-testid={testid}>–</span>;
  }
  const max = Math.max(1, ...values);
  const total = values.reduce((a, b) => a + b, 0);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const pad = 2;
  const y = (v: number) => pad + (height - 2 * pad) * (1 - v / max);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${y(v).toFixed(1)}`);
  const line = points.join(" ");
  const area = `0,${height} ${line} ${((values.length - 1) * step).toFixed(1)},${height}`;
  const last = values[values.length - 1] ?? 0;
  return (
    <svg
      class="sparkline"
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={title ?? `${fmtInt(total)} events`}
      data-testid={testid}
      data-total={total}
    >
      <title>{title ?? `${fmtInt(total)} events, peak ${fmtInt(max)} per bucket`}</title>
      <polygon class="sparkline-area" points={area} />
      <polyline class="sparkline-line" points={line} />
      <circle class="sparkline-dot" cx={((values.length - 1) * step).toFixed(1)} cy={y(last).toFixed(1)} r="1.8" />
    </svg>
  );
}

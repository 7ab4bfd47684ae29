// A uPlot chart that fills its box's width, follows the theme and takes new data without being
// rebuilt. `build` makes the options from the theme's palette; the chart is built again only
// when the theme or `configKey` (say, the list of series) changes.

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { palette, useTheme, type Palette } from "../theme";

interface Props {
  build: (p: Palette) => Omit<uPlot.Options, "width" | "height">;
  data: uPlot.AlignedData;
  height: number;
  configKey: string;
  testid: string;
  label: string;
}

export function Chart({ build, data, height, configKey, testid, label }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const dataRef = useRef(data);
  dataRef.current = data;
  const buildRef = useRef(build);
  buildRef.current = build;
  const theme = useTheme();

  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const width = Math.max(100, Math.floor(el.clientWidth));
    const u = new uPlot({ ...buildRef.current(palette(theme)), width, height }, dataRef.current, el);
    chart.current = u;
    let frame = 0;
    const observer = new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        const w = Math.max(100, Math.floor(el.clientWidth));
        if (w !== u.width) u.setSize({ width: w, height });
      });
    });
    observer.observe(el);
    return () => {
      cancelAnimationFrame(frame);
      observer.disconnect();
      u.destroy();
      chart.current = null;
    };
  }, [theme, configKey, height]);

  useEffect(() => {
    chart.current?.setData(data);
  }, [data]);

  return <div class="chart" ref={box} data-testid={testid} role="img" aria-label={label} />;
}

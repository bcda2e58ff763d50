import { formatValue } from "./components";

export interface Point {
  key: string;
  x: number;
  y: number;
  title: string;
  marked?: boolean; // drawn larger, in the deployment's colour
}

const W = 640;
const H = 210;
const PAD = { left: 56, right: 16, top: 12, bottom: 30 };

/** The scales of a chart of ``xs`` and ``ys``, and its axes with the y range labelled. */
function frame(xs: number[], ys: number[]) {
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const x = (v: number) => PAD.left + (x1 === x0 ? 0.5 : (v - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - (y1 === y0 ? 0.5 : (v - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);
  const axes = (
    <>
      <line className="axis" x1={PAD.left} y1={H - PAD.bottom} x2={W - PAD.right} y2={H - PAD.bottom} />
      <line className="axis" x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={H - PAD.bottom} />
      <text className="tick" x={PAD.left - 6} y={y(y1) + 4} textAnchor="end">
        {formatValue(y1)}
      </text>
      {y1 !== y0 ? (
        <text className="tick" x={PAD.left - 6} y={y(y0) + 4} textAnchor="end">
          {formatValue(y0)}
        </text>
      ) : null}
    </>
  );
  return { x, y, x0, x1, axes };
}

/** A line through ``points`` (in order of x), the y range and the two ends of x labelled. */
export function LineChart({ points, label, ends }: { points: Point[]; label: string; ends: [string, string] }) {
  const { x, y, axes } = frame(
    points.map((p) => p.x),
    points.map((p) => p.y),
  );
  const line = points.map((p, i) => `${i ? "L" : "M"}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(" ");
  return (
    <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
      {axes}
      <path className="series" d={line} />
      {points.map((p) => (
        <circle key={p.key} className={p.marked ? "point marked" : "point"} cx={x(p.x)} cy={y(p.y)} r={p.marked ? 6 : 4}>
          <title>{p.title}</title>
        </circle>
      ))}
      <text className="tick" x={PAD.left} y={H - 10} textAnchor="start">
        {ends[0]}
      </text>
      <text className="tick" x={W - PAD.right} y={H - 10} textAnchor="end">
        {ends[1]}
      </text>
    </svg>
  );
}

export interface Series {
  name: string;
  points: { x: number; y: number }[];
}

// Colours of overlaid series, in order (distinct from the kinds' colours where possible).
export const SERIES_COLOURS = ["#2f5bd3", "#c01048", "#1f8a4c", "#b54708", "#5b3cc4", "#0e7c86", "#9e3a8c", "#6b6f80"];

/** Several lines over one x axis (a metric's curve per run, by training step), with a
 * legend naming each. */
export function CurvesChart({ series, label, xLabel }: { series: Series[]; label: string; xLabel: string }) {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return <p className="empty">No history of this metric was logged.</p>;
  const { x, y, x0, x1, axes } = frame(
    all.map((p) => p.x),
    all.map((p) => p.y),
  );
  return (
    <figure className="curves">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
        {axes}
        {series.map((s, i) => (
          <path
            key={s.name}
            className="curve"
            data-series={s.name}
            stroke={SERIES_COLOURS[i % SERIES_COLOURS.length]}
            d={s.points.map((p, j) => `${j ? "L" : "M"}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(" ")}
          >
            <title>{`${s.name}: ${s.points.length} points`}</title>
          </path>
        ))}
        <text className="tick" x={PAD.left} y={H - 10} textAnchor="start">
          {`${xLabel} ${x0}`}
        </text>
        <text className="tick" x={W - PAD.right} y={H - 10} textAnchor="end">
          {`${xLabel} ${x1}`}
        </text>
      </svg>
      <figcaption className="legend">
        {series.map((s, i) => (
          <span key={s.name} className="legend-item">
            <span className="swatch" style={{ background: SERIES_COLOURS[i % SERIES_COLOURS.length] }} />
            {s.name}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

/** Bars on a time axis: a pipeline run's steps, each from its start to its end. */
export function Timeline({
  bars,
  label,
}: {
  bars: { key: string; name: string; start: number; end: number; colour: string; title: string }[];
  label: string;
}) {
  if (bars.length === 0) return <p className="empty">No step of this pipeline run has started.</p>;
  const row = 26;
  const left = 150;
  const height = bars.length * row + 30;
  const t0 = Math.min(...bars.map((b) => b.start));
  const t1 = Math.max(...bars.map((b) => b.end));
  const x = (t: number) => left + (t1 === t0 ? 0 : (t - t0) / (t1 - t0)) * (W - left - PAD.right);
  const clock = (t: number) => new Date(t).toISOString().slice(11, 16);
  return (
    <svg viewBox={`0 0 ${W} ${height}`} role="img" aria-label={label} className="timeline">
      {bars.map((b, i) => (
        <g key={b.key} data-step={b.name}>
          <text className="tick" x={left - 8} y={i * row + 17} textAnchor="end">
            {b.name}
          </text>
          <rect x={x(b.start)} y={i * row + 4} width={Math.max(3, x(b.end) - x(b.start))} height={row - 8} rx={3} fill={b.colour}>
            <title>{b.title}</title>
          </rect>
        </g>
      ))}
      <text className="tick" x={left} y={height - 8} textAnchor="start">
        {clock(t0)} UTC
      </text>
      <text className="tick" x={W - PAD.right} y={height - 8} textAnchor="end">
        {clock(t1)} UTC
      </text>
    </svg>
  );
}

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

/** A line through ``points`` (in order of x), the y range and the two ends of x labelled. */
export function LineChart({ points, label, ends }: { points: Point[]; label: string; ends: [string, string] }) {
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const x = (v: number) => PAD.left + (x1 === x0 ? 0.5 : (v - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - (y1 === y0 ? 0.5 : (v - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);
  const line = points.map((p, i) => `${i ? "L" : "M"}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(" ");
  return (
    <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
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

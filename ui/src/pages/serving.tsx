import { useState } from "react";

import { LineChart } from "../chart";
import { Time, formatValue } from "../components";

const day = (at: number) => new Date(at).toISOString().slice(0, 10);

interface Period {
  id: string;
  periodStart: string | null;
  periodEnd: string | null;
  metrics: Record<string, number>;
}

/** One metric of a deployment's serving performance over its periods, as a line. */
export function ServingChart({ periods, prefer = [] }: { periods: Period[]; prefer?: string[] }) {
  const names = [...new Set(periods.flatMap((p) => Object.keys(p.metrics).filter((k) => typeof p.metrics[k] === "number")))].sort();
  const [chosen, setChosen] = useState<string | null>(null);
  if (periods.length === 0) return <p className="empty">No serving performance recorded yet.</p>;
  // First shown: a metric the model was also measured by in development, if there is one.
  const metric = chosen && names.includes(chosen) ? chosen : (names.find((n) => prefer.includes(n)) ?? names[0]);
  const points = periods
    .filter((p) => typeof p.metrics[metric] === "number" && (p.periodEnd || p.periodStart))
    .map((p) => ({ period: p, at: Date.parse((p.periodEnd ?? p.periodStart)!), value: p.metrics[metric] }))
    .sort((a, b) => a.at - b.at);
  if (points.length === 0) return <p className="empty">No serving period has a numeric metric and a time.</p>;
  return (
    <div className="chart">
      {names.length > 1 ? (
        <label>
          metric{" "}
          <select value={metric} onChange={(e) => setChosen(e.target.value)}>
            {names.map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
      ) : null}
      <LineChart
        label={`${metric} over serving periods`}
        points={points.map((p) => ({
          key: p.period.id,
          x: p.at,
          y: p.value,
          title: `${metric} ${formatValue(p.value)}, period ending ${p.period.periodEnd ?? "?"}`,
        }))}
        ends={[day(points[0].at), day(points[points.length - 1].at)]}
      />
      <table className="periods">
        <thead>
          <tr>
            <th>period start</th>
            <th>period end</th>
            <th>{metric}</th>
          </tr>
        </thead>
        <tbody>
          {points.map((p) => (
            <tr key={p.period.id}>
              <td>
                <Time value={p.period.periodStart} />
              </td>
              <td>
                <Time value={p.period.periodEnd} />
              </td>
              <td className="number">{formatValue(p.value)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

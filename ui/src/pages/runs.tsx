import { useEffect, useMemo, useState } from "react";
import { Link, useParams } from "react-router-dom";

import { ApiError, gql } from "../api";
import { useQuery } from "../hooks";
import { CurvesChart, LineChart } from "../chart";
import { Loading, NodeLink, Problem, Time, formatValue } from "../components";
import { liveLabel, useLive } from "../live";

const RUN_FIELDS = "id name status createdAt deploymentTag tag modelParams { params } devPerf { metrics }";
const RUNS = `query ModelRuns($id: ID!, $after: String) {
  node(id: $id) {
    __typename id name
    ... on Model {
      runs(first: 100, after: $after) {
        nodes { ${RUN_FIELDS} }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}`;

const RUNS_LOGGED = `subscription RunsLogged($model: ID!, $after: String) {
  runLogged(model: $model, after: $after) { cursor runs { ${RUN_FIELDS} } }
}`;

interface RunRow {
  id: string;
  name: string | null;
  status: string | null;
  createdAt: string;
  deploymentTag: string | null;
  tag: string | null;
  modelParams: { params: Record<string, unknown> } | null;
  devPerf: { metrics: Record<string, unknown> } | null;
}

interface RunsData {
  node: {
    __typename: string;
    id: string;
    name: string | null;
    runs?: { nodes: RunRow[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
  };
}

// A column: a run's own field, one of its params, or one of its metrics.
interface Column {
  key: string;
  label: string;
  value: (run: RunRow) => unknown;
  group: "run" | "param" | "metric";
}

const OPERATORS = ["<", "<=", "=", ">=", ">", "contains"] as const;
type Operator = (typeof OPERATORS)[number];
interface Condition {
  column: string;
  operator: Operator;
  value: string;
}

function compare(a: unknown, b: unknown): number {
  if (a == null && b == null) return 0;
  if (a == null) return 1; // missing values last, whichever the direction
  if (b == null) return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

function holds(value: unknown, condition: Condition): boolean {
  if (condition.value === "") return true;
  if (condition.operator === "contains") return value != null && formatValue(value).includes(condition.value);
  const wanted = Number(condition.value);
  const numeric = typeof value === "number" && !Number.isNaN(wanted);
  const order = numeric ? (value as number) - wanted : compare(value, condition.value);
  if (value == null) return false;
  switch (condition.operator) {
    case "<":
      return order < 0;
    case "<=":
      return order <= 0;
    case "=":
      return numeric ? order === 0 : formatValue(value) === condition.value;
    case ">=":
      return order >= 0;
    case ">":
      return order > 0;
  }
}

function same(values: unknown[]): boolean {
  return values.every((v) => JSON.stringify(v) === JSON.stringify(values[0]));
}

/** A model's runs: a table sortable and filterable by any field, param or metric, a
 * chart of a metric across the runs, and runs compared side by side. */
export function RunsPage() {
  const { id = "" } = useParams();
  const [runs, setRuns] = useState<RunRow[]>([]);
  const [model, setModel] = useState<RunsData["node"] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [sort, setSort] = useState<{ key: string; descending: boolean }>({ key: "createdAt", descending: true });
  const [conditions, setConditions] = useState<Condition[]>([]);
  const [picked, setPicked] = useState<string[]>([]);
  const [metric, setMetric] = useState<string | null>(null);

  const load = async (after: string | null) => {
    try {
      const data = await gql<RunsData>(RUNS, { id, after });
      setModel(data.node);
      const page = data.node.runs;
      if (!page) return;
      setRuns((earlier) => (after ? [...earlier, ...page.nodes] : page.nodes));
      setNext(page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null);
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(String(e), "INTERNAL"));
    }
  };
  useEffect(() => {
    setRuns([]);
    setPicked([]);
    void load(null);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id]);
  // Runs logged from now on join the table as they are logged (once each, whatever the
  // page loaded already).
  const live = useLive<{ cursor: string; runs: RunRow[] }>(RUNS_LOGGED, { model: id }, "runLogged", model?.runs ? id : null, (event) =>
    setRuns((held) => {
      const known = new Set(held.map((r) => r.id));
      return [...event.runs.filter((r) => !known.has(r.id)), ...held];
    }),
  );

  const columns = useMemo<Column[]>(() => {
    const params = [...new Set(runs.flatMap((r) => Object.keys(r.modelParams?.params ?? {})))].sort();
    const metrics = [...new Set(runs.flatMap((r) => Object.keys(r.devPerf?.metrics ?? {})))].sort();
    return [
      { key: "name", label: "run", value: (r) => r.name, group: "run" },
      { key: "status", label: "status", value: (r) => r.status, group: "run" },
      { key: "createdAt", label: "recorded", value: (r) => r.createdAt, group: "run" },
      ...params.map<Column>((p) => ({ key: `param:${p}`, label: p, value: (r) => r.modelParams?.params[p], group: "param" })),
      ...metrics.map<Column>((m) => ({ key: `metric:${m}`, label: m, value: (r) => r.devPerf?.metrics[m], group: "metric" })),
    ];
  }, [runs]);
  const byKey = new Map(columns.map((c) => [c.key, c]));
  const metricNames = columns.filter((c) => c.group === "metric").map((c) => c.label);
  const charted = metric && metricNames.includes(metric) ? metric : metricNames[0];

  const shown = useMemo(() => {
    const column = byKey.get(sort.key) ?? byKey.get("createdAt")!;
    const kept = runs.filter((r) => conditions.every((c) => !byKey.has(c.column) || holds(byKey.get(c.column)!.value(r), c)));
    return kept.sort((a, b) => {
      const order = compare(column.value(a), column.value(b));
      return sort.descending && column.value(a) != null && column.value(b) != null ? -order : order;
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [runs, columns, sort, conditions]);

  if (error) return <Problem error={error} />;
  if (!model) return <Loading />;
  if (!model.runs) return <p className="problem">This node is not a model: only models have runs.</p>;
  const compared = picked.map((p) => runs.find((r) => r.id === p)).filter((r): r is RunRow => r !== undefined);

  return (
    <div className="runs-page">
      <h2>
        Runs of <NodeLink node={{ id: model.id, name: model.name, __typename: "Model" }} />
      </h2>
      <section>
        <h3>Filter</h3>
        {conditions.map((c, i) => (
          <div key={i} className="condition">
            <select aria-label="filter column" value={c.column} onChange={(e) => setConditions(conditions.map((x, j) => (j === i ? { ...x, column: e.target.value } : x)))}>
              {columns.map((col) => (
                <option key={col.key} value={col.key}>
                  {col.group === "run" ? col.label : `${col.group} ${col.label}`}
                </option>
              ))}
            </select>
            <select aria-label="filter operator" value={c.operator} onChange={(e) => setConditions(conditions.map((x, j) => (j === i ? { ...x, operator: e.target.value as Operator } : x)))}>
              {OPERATORS.map((o) => (
                <option key={o}>{o}</option>
              ))}
            </select>
            <input aria-label="filter value" value={c.value} onChange={(e) => setConditions(conditions.map((x, j) => (j === i ? { ...x, value: e.target.value } : x)))} />
            <button type="button" className="link dark" onClick={() => setConditions(conditions.filter((_, j) => j !== i))}>
              remove
            </button>
          </div>
        ))}
        <button
          type="button"
          onClick={() => setConditions([...conditions, { column: columns.find((c) => c.group === "metric")?.key ?? "name", operator: "<", value: "" }])}
        >
          Add a condition
        </button>
        <span className="muted">
          {" "}
          {shown.length} of {runs.length} runs{next ? " loaded so far" : ""}
        </span>
        <span className={`live-state ${live}`} role="status">
          {liveLabel(live)}
        </span>
      </section>
      <section>
        <div className="lineage-bar">
          <button type="button" disabled={compared.length < 2} onClick={() => document.getElementById("compare")?.scrollIntoView()}>
            Compare {compared.length} runs
          </button>
          <span className="muted">Pick two or more runs to compare them side by side.</span>
        </div>
        <table className="runs">
          <thead>
            <tr>
              <th />
              {columns.map((c) => (
                <th key={c.key} className={c.group === "run" ? "" : "number"} aria-sort={sort.key === c.key ? (sort.descending ? "descending" : "ascending") : "none"}>
                  <button
                    type="button"
                    className="link dark"
                    onClick={() => setSort({ key: c.key, descending: sort.key === c.key ? !sort.descending : c.key === "createdAt" })}
                  >
                    {c.group === "param" ? <span className="muted">param </span> : null}
                    {c.group === "metric" ? <span className="muted">metric </span> : null}
                    {c.label}
                    {sort.key === c.key ? (sort.descending ? " ▼" : " ▲") : ""}
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.map((r) => (
              <tr key={r.id} className={r.deploymentTag ? "deployed" : ""}>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`compare ${r.name ?? r.id}`}
                    checked={picked.includes(r.id)}
                    onChange={() => setPicked(picked.includes(r.id) ? picked.filter((p) => p !== r.id) : [...picked, r.id])}
                  />
                </td>
                {columns.map((c) => (
                  <td key={c.key} className={c.group === "run" ? "" : "number"}>
                    {c.key === "name" ? (
                      <>
                        <Link to={`/node/${encodeURIComponent(r.id)}`}>{r.name ?? "(unnamed)"}</Link>
                        {r.deploymentTag ? (
                          <span className="deployed-mark" title={`deployment tag ${r.deploymentTag}`}>
                            deployed
                          </span>
                        ) : null}
                      </>
                    ) : c.key === "createdAt" ? (
                      <Time value={r.createdAt} />
                    ) : c.value(r) == null ? (
                      ""
                    ) : (
                      formatValue(c.value(r))
                    )}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
        {next ? (
          <button type="button" onClick={() => void load(next)}>
            Load more runs
          </button>
        ) : null}
      </section>
      {charted ? (
        <section>
          <h3>
            <label>
              Metric across runs{" "}
              <select aria-label="charted metric" value={charted} onChange={(e) => setMetric(e.target.value)}>
                {metricNames.map((m) => (
                  <option key={m}>{m}</option>
                ))}
              </select>
            </label>
          </h3>
          <MetricChart runs={shown} metric={charted} />
        </section>
      ) : null}
      {compared.length >= 2 ? (
        <section id="compare">
          <h3>Compared</h3>
          <table className="compare">
            <thead>
              <tr>
                <th />
                {compared.map((r) => (
                  <th key={r.id}>
                    {r.name}
                    {r.deploymentTag ? <span className="deployed-mark">deployed</span> : null}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {columns
                .filter((c) => c.key !== "name")
                .map((c) => {
                  const values = compared.map((r) => c.value(r));
                  return (
                    <tr key={c.key} className={same(values) ? "" : "differs"}>
                      <th>{c.group === "run" ? c.label : `${c.group} ${c.label}`}</th>
                      {values.map((v, i) => (
                        <td key={compared[i].id}>{c.key === "createdAt" ? <Time value={String(v)} /> : v == null ? "" : formatValue(v)}</td>
                      ))}
                    </tr>
                  );
                })}
            </tbody>
          </table>
          {charted ? <CompareCurves runs={compared} metric={charted} /> : null}
        </section>
      ) : null}
    </div>
  );
}

const CURVES = `query RunCurves($ids: [ID!]!, $key: String!) {
  nodes(ids: $ids) { ... on Run { id name metricSeries(key: $key, maxPoints: 500) { steps values } } }
}`;

/** The compared runs' training curves of the charted metric, overlaid: one request for
 * all of them, each downsampled by the gateway. */
function CompareCurves({ runs, metric }: { runs: RunRow[]; metric: string }) {
  const ids = runs.map((r) => r.id);
  const curves = useQuery<{ nodes: ({ id: string; name: string | null; metricSeries: { steps: number[]; values: number[] } } | null)[] }>(
    CURVES,
    { ids, key: metric },
    [ids.join(","), metric],
  );
  if (curves.error) return <Problem error={curves.error} />;
  if (!curves.data) return <Loading />;
  const series = curves.data.nodes
    .filter((n): n is NonNullable<typeof n> => n != null && n.metricSeries.steps.length > 0)
    .map((n) => ({ name: n.name ?? n.id, points: n.metricSeries.steps.map((step, i) => ({ x: step, y: n.metricSeries.values[i] })) }));
  return (
    <>
      <h3>{metric} over training</h3>
      <div className="chart">
        <CurvesChart label={`${metric} over training, compared`} xLabel="step" series={series} />
      </div>
    </>
  );
}

function MetricChart({ runs, metric }: { runs: RunRow[]; metric: string }) {
  const points = runs
    .map((r) => ({ run: r, value: r.devPerf?.metrics[metric] }))
    .filter((p): p is { run: RunRow; value: number } => typeof p.value === "number")
    .sort((a, b) => a.run.createdAt.localeCompare(b.run.createdAt));
  if (points.length === 0) return <p className="empty">No run shown has this metric.</p>;
  return (
    <div className="chart">
      <LineChart
        label={`${metric} across runs`}
        points={points.map((p, i) => ({
          key: p.run.id,
          x: i,
          y: p.value,
          title: `${p.run.name}: ${metric} ${formatValue(p.value)}`,
          marked: p.run.deploymentTag != null,
        }))}
        ends={["oldest run", "newest run"]}
      />
    </div>
  );
}

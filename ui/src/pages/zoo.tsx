import { type FormEvent, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";

import { Loading, NodeLink, type NodeRef, Problem } from "../components";
import { useQuery } from "../hooks";
import { Metrics } from "./home";

// Production-ready versions with what a non-ML developer needs to pick and call one.
const ZOO = `query Zoo($where: ModelVersionWhere) {
  modelZoo(where: $where, first: 100) {
    nodes {
      id version source signature aliasNames
      model { id name __typename task framework project { id name __typename } }
      run { id name __typename devPerf { metrics } }
      deployments(first: 5) { nodes { id name __typename servingPerf(first: 1) { nodes { metrics } } } }
    }
  }
}`;

interface ZooEntry {
  id: string;
  version: number | null;
  source: string | null;
  signature: Record<string, unknown>;
  aliasNames: string[];
  model: (NodeRef & { task: string | null; framework: string | null; project: NodeRef | null }) | null;
  run: (NodeRef & { devPerf: { metrics: Record<string, unknown> } | null }) | null;
  deployments: { nodes: (NodeRef & { servingPerf: { nodes: { metrics: Record<string, unknown> }[] } })[] };
}

/** The zoo's where: the model's task and framework, each when given. */
function where(task: string, framework: string): Record<string, unknown> | null {
  const model: Record<string, unknown> = {};
  if (task) model.task = { eq: task };
  if (framework) model.framework = { eq: framework };
  return Object.keys(model).length ? { model } : null;
}

export function ZooPage() {
  const [params, setParams] = useSearchParams();
  const task = params.get("task") ?? "";
  const framework = params.get("framework") ?? "";
  const [form, setForm] = useState({ task, framework });
  const zoo = useQuery<{ modelZoo: { nodes: ZooEntry[] } }>(ZOO, { where: where(task, framework) }, [task, framework]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const next: Record<string, string> = {};
    if (form.task) next.task = form.task;
    if (form.framework) next.framework = form.framework;
    setParams(next);
  };
  return (
    <article className="zoo-page">
      <h1>Model zoo</h1>
      <p className="muted">Production-ready model versions: each model's champion, and every version a live deployment serves.</p>
      <form className="filters" onSubmit={submit}>
        <label>
          task <input value={form.task} onChange={(e) => setForm({ ...form, task: e.target.value })} />
        </label>
        <label>
          framework <input value={form.framework} onChange={(e) => setForm({ ...form, framework: e.target.value })} />
        </label>
        <button type="submit">Filter</button>
      </form>
      {zoo.error ? (
        <Problem error={zoo.error} />
      ) : !zoo.data ? (
        <Loading />
      ) : zoo.data.modelZoo.nodes.length === 0 ? (
        <p className="empty">No production-ready model matches.</p>
      ) : (
        <table className="zoo">
          <thead>
            <tr>
              <th>model</th>
              <th>version</th>
              <th>task</th>
              <th>framework</th>
              <th>saved model</th>
              <th>inputs</th>
              <th>dev metrics</th>
              <th>serving</th>
              <th>lineage</th>
            </tr>
          </thead>
          <tbody>
            {zoo.data.modelZoo.nodes.map((entry) => (
              <tr key={entry.id}>
                <td>
                  <NodeLink node={entry.model} badge={false} />
                  {entry.model?.project ? <span className="muted"> in {entry.model.project.name}</span> : null}
                </td>
                <td>
                  <Link to={`/node/${encodeURIComponent(entry.id)}`}>{entry.version}</Link>{" "}
                  {entry.aliasNames.map((a) => (
                    <span key={a} className="tag">
                      {a}
                    </span>
                  ))}
                </td>
                <td>{entry.model?.task ?? <span className="none">none</span>}</td>
                <td>{entry.model?.framework ?? <span className="none">none</span>}</td>
                <td>
                  <code>{entry.source}</code>
                </td>
                <td>{Array.isArray(entry.signature.inputs) ? `${entry.signature.inputs.length} inputs` : ""}</td>
                <td>{entry.run?.devPerf ? <Metrics metrics={entry.run.devPerf.metrics} /> : <span className="none">none</span>}</td>
                <td>
                  {entry.deployments.nodes.length === 0 ? (
                    <span className="none">not served</span>
                  ) : (
                    entry.deployments.nodes.map((d) => (
                      <div key={d.id}>
                        <NodeLink node={d} badge={false} />{" "}
                        {d.servingPerf.nodes[0] ? <Metrics metrics={d.servingPerf.nodes[0].metrics} /> : null}
                      </div>
                    ))
                  )}
                </td>
                <td>
                  <Link to={`/node/${encodeURIComponent(entry.id)}/lineage`}>lineage</Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </article>
  );
}

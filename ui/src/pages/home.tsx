import { Link } from "react-router-dom";

import { Loading, NodeLink, type NodeRef, Problem, Time, formatValue } from "../components";
import { useQuery } from "../hooks";

const HOME = `query Home {
  projects(first: 50, orderBy: {field: NAME, direction: ASC}) { nodes { id name } }
  runs(first: 10) { nodes { id name status createdAt model { id name } devPerf { metrics } } }
  deployments(first: 20) {
    nodes { id name tag createdAt model { id name }
      servingPerf(first: 1) { nodes { id periodStart periodEnd metrics } } }
  }
}`;

const SUMMARY = `query Summary($id: ID!) { projectSummary(projectId: $id) { models runs datasets featuresets deployments } }`;

interface HomeData {
  projects: { nodes: NodeRef[] };
  runs: {
    nodes: (NodeRef & { status: string | null; createdAt: string; model: NodeRef | null; devPerf: { metrics: Record<string, unknown> } | null })[];
  };
  deployments: {
    nodes: (NodeRef & {
      tag: string | null;
      createdAt: string;
      model: NodeRef | null;
      servingPerf: { nodes: { id: string; periodStart: string | null; periodEnd: string | null; metrics: Record<string, unknown> }[] };
    })[];
  };
}

export function Home() {
  const home = useQuery<HomeData>(HOME, {}, []);
  if (home.error) return <Problem error={home.error} />;
  if (!home.data) return <Loading />;
  const { projects, runs, deployments } = home.data;
  return (
    <div className="home">
      <section>
        <h2>Projects</h2>
        {projects.nodes.length === 0 ? (
          <p className="empty">No projects yet. Pipelines record them with createProject.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>project</th>
                <th>models</th>
                <th>runs</th>
                <th>datasets</th>
                <th>featuresets</th>
                <th>deployments</th>
              </tr>
            </thead>
            <tbody>
              {projects.nodes.map((p) => (
                <ProjectRow key={p.id} project={p} />
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section>
        <h2>Deployments</h2>
        {deployments.nodes.length === 0 ? (
          <p className="empty">No deployments yet.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>deployment</th>
                <th>model</th>
                <th>latest serving period</th>
                <th>serving performance</th>
              </tr>
            </thead>
            <tbody>
              {deployments.nodes.map((d) => {
                const latest = d.servingPerf.nodes[0];
                return (
                  <tr key={d.id}>
                    <td>
                      <NodeLink node={{ ...d, __typename: "Deployment" }} badge={false} />
                      {d.tag ? <span className="muted"> tag {d.tag}</span> : null}
                    </td>
                    <td>
                      <NodeLink node={d.model && { ...d.model, __typename: "Model" }} badge={false} />
                    </td>
                    <td>{latest ? <Time value={latest.periodEnd} /> : <span className="none">none</span>}</td>
                    <td>{latest ? <Metrics metrics={latest.metrics} /> : <span className="none">none</span>}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </section>
      <section>
        <h2>Latest runs</h2>
        {runs.nodes.length === 0 ? (
          <p className="empty">No runs yet.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>run</th>
                <th>model</th>
                <th>status</th>
                <th>metrics</th>
                <th>recorded</th>
              </tr>
            </thead>
            <tbody>
              {runs.nodes.map((r) => (
                <tr key={r.id}>
                  <td>
                    <NodeLink node={{ ...r, __typename: "Run" }} badge={false} />
                  </td>
                  <td>
                    {r.model ? (
                      <>
                        <NodeLink node={{ ...r.model, __typename: "Model" }} badge={false} />{" "}
                        <Link className="muted" to={`/node/${encodeURIComponent(r.model.id)}/runs`}>
                          runs
                        </Link>
                      </>
                    ) : null}
                  </td>
                  <td>{r.status}</td>
                  <td>{r.devPerf ? <Metrics metrics={r.devPerf.metrics} /> : null}</td>
                  <td>
                    <Time value={r.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}

function ProjectRow({ project }: { project: NodeRef }) {
  const summary = useQuery<{ projectSummary: Record<string, number> }>(SUMMARY, { id: project.id }, [project.id]);
  const counts = summary.data?.projectSummary;
  const cell = (name: string) => <td className="number">{counts ? counts[name] : "…"}</td>;
  return (
    <tr>
      <td>
        <NodeLink node={{ ...project, __typename: "Project" }} badge={false} />
      </td>
      {cell("models")}
      {cell("runs")}
      {cell("datasets")}
      {cell("featuresets")}
      {cell("deployments")}
    </tr>
  );
}

export function Metrics({ metrics }: { metrics: Record<string, unknown> }) {
  const entries = Object.entries(metrics);
  if (entries.length === 0) return <span className="none">none</span>;
  return (
    <span className="metrics">
      {entries.map(([name, value]) => (
        <span key={name} className="metric">
          {name} <strong>{formatValue(value)}</strong>
        </span>
      ))}
    </span>
  );
}

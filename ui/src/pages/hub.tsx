import { Link, useParams } from "react-router-dom";

import { Loading, NodeLink, type NodeRef, Problem, Time } from "../components";
import { useQuery } from "../hooks";
import { Metrics } from "./home";

const REF = "id name __typename";
const HARDWARE = "instanceType cpu memoryGb gpu gpuType count";

// A project's hub in one read: its lifecycle, traffic and what serves it, its models'
// variations and versions, and its jobs with their replays.
const HUB = `query Hub($id: ID!) {
  node(id: $id) {
    __typename id name
    ... on Project {
      stage
      servingStatus { weight ageSeconds deployment { ${REF} modelVersion { version } } latest { periodEnd metrics } }
      trafficHistory(first: 10) { seq at reason weights { weight deployment { ${REF} } } }
      models(first: 20) {
        nodes {
          ${REF} task framework lastVersion
          defaultHardware { serving { ${HARDWARE} } training { ${HARDWARE} } }
          versions(first: 20) {
            nodes { ${REF} version registration source aliasNames zoo run { ${REF} } deployments(first: 10) { nodes { ${REF} } } }
          }
        }
      }
      jobs(first: 50) {
        nodes {
          ${REF} type state image startedAt endedAt createdAt
          model { ${REF} } deployment { ${REF} } replayOf { ${REF} } run { ${REF} } replays(first: 10) { nodes { ${REF} } }
        }
      }
    }
  }
}`;

interface Hardware {
  instanceType: string | null;
  cpu: number | null;
  memoryGb: number | null;
  gpu: number | null;
  gpuType: string | null;
  count: number | null;
}

interface Version extends NodeRef {
  version: number | null;
  registration: string;
  source: string | null;
  aliasNames: string[];
  zoo: string;
  run: NodeRef | null;
  deployments: { nodes: NodeRef[] };
}

interface Model extends NodeRef {
  task: string | null;
  framework: string | null;
  lastVersion: number | null;
  defaultHardware: { serving: Hardware | null; training: Hardware | null };
  versions: { nodes: Version[] };
}

interface Job extends NodeRef {
  type: string | null;
  state: string;
  image: string | null;
  startedAt: string | null;
  endedAt: string | null;
  createdAt: string;
  model: NodeRef | null;
  deployment: NodeRef | null;
  replayOf: NodeRef | null;
  run: NodeRef | null;
  replays: { nodes: NodeRef[] };
}

interface HubData {
  node: NodeRef & {
    stage?: string;
    servingStatus?: {
      weight: number;
      ageSeconds: number | null;
      deployment: NodeRef & { modelVersion: { version: number | null } | null };
      latest: { periodEnd: string | null; metrics: Record<string, unknown> } | null;
    }[];
    trafficHistory?: { seq: number; at: string; reason: string | null; weights: { weight: number; deployment: NodeRef | null }[] }[];
    models?: { nodes: Model[] };
    jobs?: { nodes: Job[] };
  };
}

/** How a hardware spec reads in one line: "m5.large, 2 CPU, 8 GB, x2". */
export function hardwareText(h: Hardware | null): string {
  if (!h) return "";
  const parts = [
    h.instanceType,
    h.cpu != null ? `${h.cpu} CPU` : null,
    h.memoryGb != null ? `${h.memoryGb} GB` : null,
    h.gpu ? `${h.gpu} GPU${h.gpuType ? ` ${h.gpuType}` : ""}` : null,
    h.count != null ? `x${h.count}` : null,
  ];
  return parts.filter((p) => p != null).join(", ");
}

function age(seconds: number | null): string {
  if (seconds == null) return "no record";
  const days = Math.floor(seconds / 86400);
  if (days >= 1) return `${days} d`;
  const hours = Math.floor(seconds / 3600);
  return hours >= 1 ? `${hours} h` : `${Math.max(0, Math.floor(seconds / 60))} min`;
}

export function HubPage() {
  const { id = "" } = useParams();
  const hub = useQuery<HubData>(HUB, { id }, [id]);
  if (hub.error) return <Problem error={hub.error} />;
  if (!hub.data) return <Loading />;
  const project = hub.data.node;
  if (project.__typename !== "Project") {
    return <p className="empty">The hub is a project's page; this is a {project.__typename}.</p>;
  }
  const models = project.models?.nodes ?? [];
  const jobs = project.jobs?.nodes ?? [];
  return (
    <article className="hub-page">
      <header className="node-head">
        <h1>{project.name}</h1>
        <span className="status">{project.stage}</span>
        <span className="node-links">
          <Link to={`/node/${encodeURIComponent(project.id)}`}>Project</Link>
          <Link to="/zoo">Model zoo</Link>
        </span>
      </header>

      <section>
        <h2>Serving</h2>
        {(project.servingStatus ?? []).length === 0 ? (
          <p className="empty">No live deployment.</p>
        ) : (
          <table className="serving-status">
            <thead>
              <tr>
                <th>deployment</th>
                <th>traffic</th>
                <th>version</th>
                <th>latest serving</th>
                <th>as of</th>
              </tr>
            </thead>
            <tbody>
              {(project.servingStatus ?? []).map((s) => (
                <tr key={s.deployment.id}>
                  <td>
                    <NodeLink node={s.deployment} />
                  </td>
                  <td className="number">{s.weight}%</td>
                  <td className="number">{s.deployment.modelVersion?.version ?? <span className="none">none</span>}</td>
                  <td>{s.latest ? <Metrics metrics={s.latest.metrics} /> : <span className="none">none</span>}</td>
                  <td>{age(s.ageSeconds)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <TrafficHistory changes={project.trafficHistory ?? []} />
      </section>

      <section>
        <h2>Models</h2>
        {models.length === 0 ? <p className="empty">No models yet.</p> : models.map((m) => <ModelCard key={m.id} model={m} />)}
      </section>

      <section>
        <h2>Jobs</h2>
        {jobs.length === 0 ? (
          <p className="empty">No jobs yet. Pipelines record them with createJob.</p>
        ) : (
          <table className="jobs">
            <thead>
              <tr>
                <th>job</th>
                <th>type</th>
                <th>status</th>
                <th>of</th>
                <th>image</th>
                <th>started</th>
                <th>ended</th>
                <th>replay of</th>
                <th>replays</th>
                <th>run</th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((j) => (
                <tr key={j.id}>
                  <td>
                    <Link to={`/node/${encodeURIComponent(j.id)}`}>
                      <Time value={j.createdAt} />
                    </Link>
                  </td>
                  <td>{j.type}</td>
                  <td className={`job-${j.state.toLowerCase()}`}>{j.state}</td>
                  <td>
                    <NodeLink node={j.model ?? j.deployment} />
                  </td>
                  <td>{j.image ?? <span className="none">none</span>}</td>
                  <td>
                    <Time value={j.startedAt} />
                  </td>
                  <td>
                    <Time value={j.endedAt} />
                  </td>
                  <td>{j.replayOf ? <Link to={`/node/${encodeURIComponent(j.replayOf.id)}`}>original</Link> : null}</td>
                  <td className="number">{j.replays.nodes.length || ""}</td>
                  <td>{j.run ? <NodeLink node={j.run} badge={false} /> : null}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </article>
  );
}

function TrafficHistory({ changes }: { changes: NonNullable<HubData["node"]["trafficHistory"]> }) {
  if (changes.length === 0) return <p className="empty">No traffic weights set.</p>;
  return (
    <>
      <h3>Traffic changes</h3>
      <ol className="history">
        {changes.map((c) => (
          <li key={c.seq}>
            <Time value={c.at} />{" "}
            {c.weights.length === 0
              ? "no weights"
              : c.weights.map((w) => `${w.deployment?.name ?? "?"} ${w.weight}%`).join(", ")}
            {c.reason ? <span className="muted"> ({c.reason})</span> : null}
          </li>
        ))}
      </ol>
    </>
  );
}

function ModelCard({ model }: { model: Model }) {
  const { serving, training } = model.defaultHardware;
  return (
    <div className="card model-card">
      <h3>
        <NodeLink node={model} />
      </h3>
      <dl className="fields">
        <dt>task</dt>
        <dd>{model.task ?? <span className="none">none</span>}</dd>
        <dt>framework</dt>
        <dd>{model.framework ?? <span className="none">none</span>}</dd>
        <dt>serving hardware</dt>
        <dd>{hardwareText(serving) || <span className="none">none</span>}</dd>
        <dt>training hardware</dt>
        <dd>{hardwareText(training) || <span className="none">none</span>}</dd>
      </dl>
      {model.versions.nodes.length === 0 ? (
        <p className="empty">No versions registered.</p>
      ) : (
        <table className="versions">
          <thead>
            <tr>
              <th>version</th>
              <th>aliases</th>
              <th>status</th>
              <th>zoo</th>
              <th>source</th>
              <th>run</th>
              <th>served by</th>
            </tr>
          </thead>
          <tbody>
            {model.versions.nodes.map((v) => (
              <tr key={v.id}>
                <td className="number">
                  <Link to={`/node/${encodeURIComponent(v.id)}`}>{v.version}</Link>
                </td>
                <td>
                  {v.aliasNames.map((a) => (
                    <span key={a} className="tag">
                      {a}
                    </span>
                  ))}
                </td>
                <td>{v.registration}</td>
                <td>{v.zoo === "LISTED" ? "listed" : ""}</td>
                <td>
                  <code>{v.source}</code>
                </td>
                <td>
                  <NodeLink node={v.run} badge={false} />
                </td>
                <td>
                  {v.deployments.nodes.map((d) => (
                    <NodeLink key={d.id} node={d} badge={false} />
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

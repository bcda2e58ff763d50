import { useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";

import { Json, KindBadge, Loading, NodeLink, type NodeRef, Problem, Tags, Time, kindOf } from "../components";
import { useQuery } from "../hooks";
import { Metrics } from "./home";
import { CurvesChart, Timeline } from "../chart";
import { KIND_COLOURS, LineageGraph } from "./lineage";
import { ServingChart } from "./serving";
import { liveLabel, useLive } from "../live";

const REF = "id name __typename";
const PAGE = `nodes { ${REF} } pageInfo { hasNextPage }`;
// The steps that wrote and read an asset.
const MADE = `producedBy(first: 50) { ${PAGE} } consumedBy(first: 50) { ${PAGE} }`;
const ASSETS = ["Datasets", "Featuresets", "ModelVersions", "Models", "Deployments"];
const MADE_BY: [string, string][] = [
  ["producedBy", "Written by steps"],
  ["consumedBy", "Read by steps"],
];

// Every kind's fields and neighbours (a page of each list), in one read.
const NODE = `query NodePage($id: ID!) {
  node(id: $id) {
    __typename id kind name createdAt tags attributes
    ... on Project { stage models(first: 50) { ${PAGE} } jobs(first: 50) { ${PAGE} } }
    ... on Dataset { featuresets(first: 50) { ${PAGE} } runs(first: 50) { ${PAGE} } ${MADE} }
    ... on Featureset { dataset { ${REF} } runs(first: 50) { ${PAGE} } deployments(first: 50) { ${PAGE} } ${MADE} }
    ... on Model { task framework project { ${REF} } runs(first: 50) { ${PAGE} } deployments(first: 50) { ${PAGE} }
                   versions(first: 50) { ${PAGE} } ${MADE} }
    ... on ModelVersion { version registration source zoo model { ${REF} } run { ${REF} } deployments(first: 50) { ${PAGE} } ${MADE} }
    ... on Job { type state image modelPath startedAt endedAt project { ${REF} } model { ${REF} } deployment { ${REF} }
                 replayOf { ${REF} } run { ${REF} } replays(first: 50) { ${PAGE} } steps(first: 50) { ${PAGE} } }
    ... on Run { status startTime endTime tag deploymentTag dataset { ${REF} } featureset { ${REF} } model { ${REF} }
                 modelParams { ${REF} params } devPerf { ${REF} metrics } steps(first: 50) { ${PAGE} } }
    ... on Step { phase state startedAt endedAt parent { ${REF} } job { ${REF} } run { ${REF} }
                  ${["input", "output"].flatMap((way) => ASSETS.map((a) => `${way}${a}(first: 50) { ${PAGE} }`)).join(" ")}
                  steps(first: 100) { nodes { ${REF} phase state startedAt endedAt } pageInfo { hasNextPage } } }
    ... on ModelParams { params run { ${REF} } deployments(first: 50) { ${PAGE} } }
    ... on DevPerf { metrics run { ${REF} } }
    ... on CustomNode { customKind }
    ... on ServingPerf { periodStart periodEnd metrics deployment { ${REF} } }
    ... on Deployment {
      tag lifecycle modelVersion { ${REF} } jobs(first: 50) { ${PAGE} } model { ${REF} } modelParams { ${REF} params run { ${REF} devPerf { ${REF} metrics } } }
      featureset { ${REF} dataset { ${REF} } }
      servingPerf(first: 100) { nodes { ${REF} periodStart periodEnd metrics } pageInfo { hasNextPage } }
      ${MADE}
    }
  }
}`;

type Page = { nodes: NodeRef[]; pageInfo: { hasNextPage: boolean } };
type Any = Record<string, unknown> & NodeRef & { createdAt: string; tags: string[]; attributes: unknown };

// Neighbour fields as the page lists them, by kind.
const NEIGHBOURS: Record<string, [string, string][]> = {
  Project: [
    ["models", "Models"],
    ["jobs", "Jobs"],
  ],
  Dataset: [["featuresets", "Featuresets"], ["runs", "Runs"], ...MADE_BY],
  Featureset: [["dataset", "Dataset"], ["runs", "Runs"], ["deployments", "Deployments"], ...MADE_BY],
  Model: [["project", "Project"], ["versions", "Versions"], ["deployments", "Deployments"], ["runs", "Runs"], ...MADE_BY],
  ModelVersion: [["model", "Model"], ["run", "Run"], ["deployments", "Served by"], ...MADE_BY],
  Step: [
    ["parent", "Pipeline run"],
    ["job", "Job"],
    ["run", "Run"],
    ...ASSETS.map((a): [string, string] => [`input${a}`, `Read ${a.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase()}`]),
    ...ASSETS.map((a): [string, string] => [`output${a}`, `Wrote ${a.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase()}`]),
    ["steps", "Steps"],
  ],
  Job: [
    ["project", "Project"],
    ["model", "Model"],
    ["deployment", "Deployment"],
    ["replayOf", "Replay of"],
    ["replays", "Replays"],
    ["run", "Run produced"],
    ["steps", "Steps"],
  ],
  Run: [
    ["model", "Model"],
    ["dataset", "Dataset"],
    ["featureset", "Featureset"],
    ["modelParams", "Model params"],
    ["devPerf", "Dev performance"],
    ["steps", "Steps"],
  ],
  ModelParams: [
    ["run", "Run"],
    ["deployments", "Deployments"],
  ],
  DevPerf: [["run", "Run"]],
  ServingPerf: [["deployment", "Deployment"]],
  Deployment: [["modelVersion", "Serves version"], ["jobs", "Jobs"], ...MADE_BY],
};

// Fields of a kind besides the common ones, with their labels.
const FIELDS: Record<string, [string, string][]> = {
  Run: [
    ["status", "status"],
    ["startTime", "started"],
    ["endTime", "ended"],
    ["tag", "tag"],
    ["deploymentTag", "deployment tag"],
  ],
  ServingPerf: [
    ["periodStart", "period start"],
    ["periodEnd", "period end"],
  ],
  Deployment: [
    ["tag", "deployment tag"],
    ["lifecycle", "lifecycle"],
  ],
  Project: [["stage", "stage"]],
  Model: [
    ["task", "task"],
    ["framework", "framework"],
  ],
  ModelVersion: [
    ["version", "version"],
    ["registration", "registration"],
    ["source", "source"],
    ["zoo", "model zoo"],
  ],
  Step: [
    ["phase", "phase"],
    ["state", "state"],
    ["startedAt", "started"],
    ["endedAt", "ended"],
  ],
  CustomNode: [["customKind", "declared kind"]],
  Job: [
    ["type", "type"],
    ["state", "state"],
    ["image", "image"],
    ["modelPath", "model path"],
    ["startedAt", "started"],
    ["endedAt", "ended"],
  ],
};

export function NodePage() {
  const { id = "" } = useParams();
  const found = useQuery<{ node: Any }>(NODE, { id }, [id]);
  if (found.error) return <Problem error={found.error} />;
  if (!found.data) return <Loading />;
  const node = found.data.node;
  const kind = kindOf(node);
  return (
    <article className="node-page">
      <header className="node-head">
        <KindBadge kind={kind} />
        <h1>{node.name ?? "(unnamed)"}</h1>
        <span className="node-links">
          {kind === "Model" ? <Link to={`/node/${encodeURIComponent(node.id)}/runs`}>Runs</Link> : null}
          {kind === "Project" ? <Link to={`/node/${encodeURIComponent(node.id)}/hub`}>Hub</Link> : null}
          <Link to={`/node/${encodeURIComponent(node.id)}/lineage`}>Lineage</Link>
        </span>
      </header>
      <dl className="fields">
        <dt>id</dt>
        <dd>
          <code>{node.id}</code>
        </dd>
        <dt>recorded</dt>
        <dd>
          <Time value={node.createdAt} />
        </dd>
        {(FIELDS[kind] ?? []).map(([field, label]) => (
          <Field
            key={field}
            label={label}
            value={node[field]}
            time={field.endsWith("Time") || field.startsWith("period") || field.endsWith("edAt")}
          />
        ))}
        <dt>tags</dt>
        <dd>
          <Tags tags={node.tags} />
        </dd>
        <dt>attributes</dt>
        <dd>
          <Json value={node.attributes} label="attributes" />
        </dd>
        {"params" in node ? (
          <>
            <dt>params</dt>
            <dd>
              <Json value={node.params} label="params" />
            </dd>
          </>
        ) : null}
        {"metrics" in node ? (
          <>
            <dt>metrics</dt>
            <dd>
              <Metrics metrics={node.metrics as Record<string, unknown>} />
            </dd>
          </>
        ) : null}
      </dl>
      {kind === "Deployment" ? <DeploymentCard node={node} /> : null}
      {kind === "Run" && Object.keys((node.devPerf as { metrics?: object } | null)?.metrics ?? {}).length > 0 ? (
        <RunCurves node={node} />
      ) : null}
      {kind === "Step" && node.phase === "PIPELINE" ? <PipelineTimeline node={node} /> : null}
      <Neighbours node={node} kind={kind} />
    </article>
  );
}

function Field({ label, value, time }: { label: string; value: unknown; time: boolean }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{value == null ? <span className="none">none</span> : time ? <Time value={String(value)} /> : String(value)}</dd>
    </>
  );
}

function Neighbours({ node, kind }: { node: Any; kind: string }) {
  // A step reads and writes a few kinds of assets: the others are left out, not listed as none.
  const fields = (NEIGHBOURS[kind] ?? []).filter(([field]) => {
    const value = node[field] as Page | null | undefined;
    return !(kind === "Step" && /^(input|output)/.test(field) && value != null && value.nodes.length === 0);
  });
  if (fields.length === 0) return null;
  return (
    <section className="neighbours">
      <h2>Neighbours</h2>
      <dl className="fields">
        {fields.map(([field, label]) => {
          const value = node[field] as NodeRef | Page | null | undefined;
          return (
            <div key={field} id={field}>
              <dt>{label}</dt>
              <dd>
                {value && "nodes" in value ? (
                  value.nodes.length === 0 ? (
                    <span className="none">none</span>
                  ) : (
                    <ul className="refs">
                      {value.nodes.map((n) => (
                        <li key={n.id}>
                          <NodeLink node={n} />
                        </li>
                      ))}
                      {value.pageInfo.hasNextPage ? <li className="muted">and more</li> : null}
                    </ul>
                  )
                ) : (
                  <NodeLink node={value as NodeRef | null} />
                )}
              </dd>
            </div>
          );
        })}
      </dl>
    </section>
  );
}

type DeploymentNode = Any & {
  model: NodeRef | null;
  modelParams: (NodeRef & { params: unknown; run: (NodeRef & { devPerf: (NodeRef & { metrics: Record<string, unknown> }) | null }) | null }) | null;
  featureset: (NodeRef & { dataset: NodeRef | null }) | null;
  servingPerf: { nodes: (NodeRef & { periodStart: string | null; periodEnd: string | null; metrics: Record<string, number> })[]; pageInfo: { hasNextPage: boolean } };
};

type Period = DeploymentNode["servingPerf"]["nodes"][number];
const SERVING_LOGGED = `subscription ServingLogged($deployment: ID!, $after: String) {
  servingPerfLogged(deployment: $deployment, after: $after) { cursor servingPerf { ${REF} periodStart periodEnd metrics } }
}`;

/** What stands behind a deployment, as Arangopipe's lineage card showed it, and how it
 * served: serving periods logged while the page is open join the chart as they come. */
function DeploymentCard({ node }: { node: Any }) {
  const d = node as DeploymentNode;
  const run = d.modelParams?.run ?? null;
  const [periods, setPeriods] = useState<Period[]>(d.servingPerf.nodes);
  useEffect(() => setPeriods(d.servingPerf.nodes), [d.servingPerf.nodes]);
  const live = useLive<{ cursor: string; servingPerf: Period[] }>(SERVING_LOGGED, { deployment: d.id }, "servingPerfLogged", d.id, (event) =>
    setPeriods((held) => {
      const known = new Set(held.map((p) => p.id));
      return [...held, ...event.servingPerf.filter((p) => !known.has(p.id))];
    }),
  );
  return (
    <section className="card">
      <h2>Deployment card</h2>
      <dl className="fields">
        <dt>dataset</dt>
        <dd>
          <NodeLink node={d.featureset?.dataset} />
        </dd>
        <dt>featureset</dt>
        <dd>
          <NodeLink node={d.featureset} />
        </dd>
        <dt>model</dt>
        <dd>
          <NodeLink node={d.model} />
        </dd>
        <dt>run</dt>
        <dd>
          <NodeLink node={run} />
        </dd>
        <dt>model params</dt>
        <dd>{d.modelParams ? <Json value={d.modelParams.params} label="params" /> : <span className="none">none</span>}</dd>
        <dt>dev performance</dt>
        <dd>{run?.devPerf ? <Metrics metrics={run.devPerf.metrics} /> : <span className="none">none</span>}</dd>
      </dl>
      <h3>
        Serving performance{" "}
        <span className={`live-state ${live}`} role="status">
          {liveLabel(live)}
        </span>
      </h3>
      <ServingChart periods={periods} prefer={Object.keys(run?.devPerf?.metrics ?? {})} />
      <h3>Lineage</h3>
      <LineageGraph id={d.id} options={{ direction: "UPSTREAM", depth: 4, kinds: [], limit: 200 }} compact />
    </section>
  );
}

const CURVE = `query RunCurve($id: ID!, $key: String!) {
  node(id: $id) { ... on Run { metricSeries(key: $key, maxPoints: 500) { steps values } } }
}`;

/** A run's training curve of one of its metrics (chosen), downsampled by the gateway. */
function RunCurves({ node }: { node: Any }) {
  const metrics = ((node.devPerf as { metrics?: Record<string, unknown> } | null)?.metrics ?? {}) as Record<string, unknown>;
  const keys = Object.keys(metrics).sort();
  const [key, setKey] = useState(keys[0] ?? "");
  const curve = useQuery<{ node: { metricSeries: { steps: number[]; values: number[] } } | null }>(CURVE, { id: node.id, key }, [
    node.id,
    key,
  ]);
  const columns = curve.data?.node?.metricSeries ?? { steps: [], values: [] };
  const points = columns.steps.map((step, i) => ({ x: step, y: columns.values[i] }));
  return (
    <section className="card">
      <h2>
        Training curve{" "}
        <select aria-label="curve metric" value={key} onChange={(e) => setKey(e.target.value)}>
          {keys.map((k) => (
            <option key={k}>{k}</option>
          ))}
        </select>
      </h2>
      {curve.error ? (
        <Problem error={curve.error} />
      ) : !curve.data ? (
        <Loading />
      ) : (
        <div className="chart">
          <CurvesChart
            label={`${key} over training`}
            xLabel="step"
            series={[{ name: node.name ?? node.id, points }]}
          />
        </div>
      )}
    </section>
  );
}

type StepRow = NodeRef & { phase: string; state: string; startedAt: string | null; endedAt: string | null };

const STATE_COLOURS: Record<string, string> = {
  SUCCEEDED: KIND_COLOURS.Featureset,
  FAILED: KIND_COLOURS.Deployment,
  CANCELLED: "#98a2b3",
  RUNNING: KIND_COLOURS.Run,
  PENDING: "#d0d5dd",
};

/** A pipeline run's steps on a time line, in the order they started; a step still
 * running reaches to now. */
function PipelineTimeline({ node }: { node: Any }) {
  const steps = (node.steps as { nodes: StepRow[] }).nodes;
  const now = Date.now();
  const bars = steps
    .filter((s) => s.startedAt != null)
    .map((s) => {
      const start = Date.parse(s.startedAt as string);
      const end = s.endedAt ? Date.parse(s.endedAt) : now;
      const minutes = Math.round((end - start) / 60_000);
      return {
        key: s.id,
        name: s.name ?? s.phase.toLowerCase(),
        start,
        end,
        colour: STATE_COLOURS[s.state] ?? "#667085",
        title: `${s.name}: ${s.phase.toLowerCase()}, ${s.state.toLowerCase()}, ${minutes} min`,
      };
    })
    .sort((a, b) => a.start - b.start);
  return (
    <section className="card">
      <h2>Timeline</h2>
      <div className="chart">
        <Timeline bars={bars} label="the pipeline run's steps over time" />
      </div>
    </section>
  );
}

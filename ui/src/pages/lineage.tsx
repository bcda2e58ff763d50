import { useEffect, useMemo, useRef, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router-dom";

import { ApiError, gql } from "../api";
import { KindBadge, Loading, Problem, kindOf } from "../components";
import { UPSTREAM_END } from "../vocabulary";

const KINDS = [
  "PROJECT",
  "DATASET",
  "FEATURESET",
  "MODEL",
  "MODELVERSION",
  "RUN",
  "MODELPARAMS",
  "DEVPERF",
  "DEPLOYMENT",
  "SERVINGPERF",
  "JOB",
  "STEP",
  "CUSTOM",
];
const DIRECTIONS = ["UPSTREAM", "DOWNSTREAM", "BOTH"] as const;
type Direction = (typeof DIRECTIONS)[number];

// One colour per kind, as the kind badges have them (kept here as values, so that an
// exported SVG carries them).
export const KIND_COLOURS: Record<string, string> = {
  Project: "#5b3cc4",
  Dataset: "#0e7c86",
  Featureset: "#1f8a4c",
  Model: "#b54708",
  Run: "#2f5bd3",
  ModelParams: "#6b6f80",
  DevPerf: "#9e3a8c",
  Deployment: "#c01048",
  ServingPerf: "#a15c07",
  ModelVersion: "#8a5a00",
  Job: "#3a6e2f",
  Step: "#475467",
  CustomNode: "#7a5af8",
};

const LINEAGE = `query Lineage($id: ID!, $direction: LineageDirection!, $depth: Int, $kinds: [NodeKind!], $limit: Int) {
  lineage(id: $id, direction: $direction, depth: $depth, kinds: $kinds, limit: $limit) {
    root { __typename id name ... on CustomNode { customKind } }
    nodes { depth direction node { __typename id name ... on CustomNode { customKind } } }
    edges { id kind customKind from to }
    truncated
  }
  edgeKinds { name upstream }
}`;

interface LineageNodeRef {
  __typename: string;
  id: string;
  name: string | null;
  customKind?: string | null;
}

interface LineageData {
  lineage: {
    root: LineageNodeRef;
    nodes: { depth: number; direction: Direction; node: LineageNodeRef }[];
    edges: { id: string; kind: string; customKind: string | null; from: string; to: string }[];
    truncated: boolean;
  };
  edgeKinds: { name: string; upstream: "FROM" | "TO" | "NONE" }[];
}

export interface GraphEdge {
  id: string;
  kind: string;
  customKind: string | null;
  from: string;
  to: string;
  /** Which end is upstream: the data dictionary's, or a declared edge kind's (null: grouping). */
  upstream: "from" | "to" | null;
}

export interface GraphNode {
  id: string;
  name: string | null;
  kind: string;
  /** What its box says it is: its kind, or a node of a declared kind's kind name. */
  caption: string;
}

export interface Graph {
  nodes: Map<string, GraphNode>;
  edges: Map<string, GraphEdge>;
  truncated: boolean;
}

/** The graph with the walk's nodes and edges added (those it has already kept). */
function merge(graph: Graph, data: LineageData["lineage"], declared: LineageData["edgeKinds"]): Graph {
  const nodes = new Map(graph.nodes);
  const edges = new Map(graph.edges);
  for (const node of [data.root, ...data.nodes.map((n) => n.node)]) {
    const kind = kindOf(node);
    if (!nodes.has(node.id)) nodes.set(node.id, { id: node.id, name: node.name, kind, caption: node.customKind ?? kind });
  }
  const ends = new Map(declared.map((k) => [k.name, k.upstream === "NONE" ? null : (k.upstream.toLowerCase() as "from" | "to")]));
  for (const edge of data.edges) {
    const upstream = edge.customKind !== null ? (ends.get(edge.customKind) ?? null) : UPSTREAM_END[edge.kind];
    edges.set(edge.id, { ...edge, upstream });
  }
  return { nodes, edges, truncated: graph.truncated || data.truncated };
}

/** Each node's column: what a node was derived from stands to its left. A node is one
 * column right of the rightmost node it was derived from, and a node derived from
 * nothing drawn stands just left of the leftmost node derived from it (the data
 * dictionary says which end of each edge kind is upstream; a grouping edge, such as a
 * project's model, puts the group first). */
export function columns(graph: Graph): Map<string, number> {
  const flows: [string, string][] = []; // [upstream, downstream]
  for (const e of graph.edges.values()) {
    if (!graph.nodes.has(e.from) || !graph.nodes.has(e.to)) continue;
    flows.push(e.upstream === "to" ? [e.to, e.from] : [e.from, e.to]);
  }
  const column = new Map([...graph.nodes.keys()].map((id) => [id, 0]));
  // Longest paths; a lineage graph has no cycle, and the bound keeps a bad one finite.
  for (let round = 0; round < graph.nodes.size; round++) {
    let moved = false;
    for (const [up, down] of flows) {
      if (column.get(down)! < column.get(up)! + 1) {
        column.set(down, column.get(up)! + 1);
        moved = true;
      }
    }
    if (!moved) break;
  }
  const derived = new Set(flows.map(([, down]) => down));
  for (const id of graph.nodes.keys()) {
    if (derived.has(id)) continue;
    const next = flows.filter(([up]) => up === id).map(([, down]) => column.get(down)!);
    if (next.length) column.set(id, Math.min(...next) - 1);
  }
  return column;
}

const EMPTY: Graph = { nodes: new Map(), edges: new Map(), truncated: false };

const BOX = { w: 168, h: 34, gapX: 72, gapY: 16, pad: 16 };

/** Where each node is drawn: columns left to right, nodes in a column ordered so that
 * edges cross little (each placed by the mean row of its neighbours in the column before). */
export function layout(graph: Graph): { positions: Map<string, { x: number; y: number }>; width: number; height: number } {
  const column = columns(graph);
  const byColumn = new Map<number, GraphNode[]>();
  for (const node of graph.nodes.values()) {
    const at = column.get(node.id)!;
    byColumn.set(at, [...(byColumn.get(at) ?? []), node]);
  }
  const order = [...byColumn.keys()].sort((a, b) => a - b);
  const neighbours = new Map<string, string[]>();
  for (const e of graph.edges.values()) {
    neighbours.set(e.from, [...(neighbours.get(e.from) ?? []), e.to]);
    neighbours.set(e.to, [...(neighbours.get(e.to) ?? []), e.from]);
  }
  const row = new Map<string, number>();
  for (const at of order) {
    const nodes = byColumn.get(at)!;
    const weight = (n: GraphNode) => {
      const placed = (neighbours.get(n.id) ?? []).map((id) => row.get(id)).filter((r): r is number => r !== undefined);
      return placed.length ? placed.reduce((a, b) => a + b, 0) / placed.length : Number.POSITIVE_INFINITY;
    };
    nodes.sort((a, b) => weight(a) - weight(b) || a.kind.localeCompare(b.kind) || (a.name ?? "").localeCompare(b.name ?? ""));
    nodes.forEach((n, i) => row.set(n.id, i));
  }
  const tallest = Math.max(1, ...[...byColumn.values()].map((c) => c.length));
  const height = BOX.pad * 2 + tallest * BOX.h + (tallest - 1) * BOX.gapY;
  const positions = new Map<string, { x: number; y: number }>();
  order.forEach((at, i) => {
    const nodes = byColumn.get(at)!;
    const top = (height - (nodes.length * BOX.h + (nodes.length - 1) * BOX.gapY)) / 2;
    nodes.forEach((n, j) => positions.set(n.id, { x: BOX.pad + i * (BOX.w + BOX.gapX), y: top + j * (BOX.h + BOX.gapY) }));
  });
  const width = BOX.pad * 2 + order.length * BOX.w + Math.max(0, order.length - 1) * BOX.gapX;
  return { positions, width, height };
}

// What a node without a name is called in the picture.
const UNNAMED: Record<string, string> = {
  ModelParams: "(model params)",
  DevPerf: "(dev performance)",
  ServingPerf: "(serving period)",
};

function label(node: GraphNode): string {
  return node.name ?? UNNAMED[node.kind] ?? "(unnamed)";
}

function shorten(text: string, most = 22): string {
  return text.length > most ? `${text.slice(0, most - 1)}…` : text;
}

/** Graphviz DOT of the picture: the same nodes, colours and edges. */
export function toDot(graph: Graph): string {
  const quote = (text: string) => `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
  const lines = ["digraph lineage {", "  rankdir=LR;", '  node [shape=box, style="rounded,filled", fontcolor=white, fontname="Helvetica"];'];
  for (const n of graph.nodes.values()) {
    lines.push(`  ${quote(n.id)} [label=${quote(`${n.caption}\n${label(n)}`)}, fillcolor=${quote(KIND_COLOURS[n.kind] ?? "#667085")}];`);
  }
  for (const e of graph.edges.values()) {
    if (graph.nodes.has(e.from) && graph.nodes.has(e.to)) {
      lines.push(`  ${quote(e.from)} -> ${quote(e.to)} [label=${quote(e.kind.toLowerCase())}];`);
    }
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

function download(name: string, type: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  URL.revokeObjectURL(url);
}

interface Options {
  direction: Direction;
  depth: number;
  kinds: string[];
  limit: number;
}

/** The lineage of ``id`` as a picture: asked with ``options``, expandable node by node. */
export function LineageGraph({ id, options, compact = false }: { id: string; options: Options; compact?: boolean }) {
  const [graph, setGraph] = useState<Graph>(EMPTY);
  const [error, setError] = useState<ApiError | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [expanding, setExpanding] = useState(false);
  const svg = useRef<SVGSVGElement>(null);
  const navigate = useNavigate();
  const key = JSON.stringify([id, options]);

  useEffect(() => {
    let current = true;
    setGraph(EMPTY);
    setError(null);
    setSelected(null);
    ask(id, options).then(
      (data) => current && setGraph(merge(EMPTY, data.lineage, data.edgeKinds)),
      (e: unknown) => current && setError(e instanceof ApiError ? e : new ApiError(String(e), "INTERNAL")),
    );
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  const drawn = useMemo(() => layout(graph), [graph]);
  if (error) return <Problem error={error} />;
  if (graph.nodes.size === 0) return <Loading />;

  const expand = async (nodeId: string) => {
    setExpanding(true);
    try {
      const data = await ask(nodeId, { ...options, depth: 1 });
      setGraph((g) => merge(g, data.lineage, data.edgeKinds));
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(String(e), "INTERNAL"));
    } finally {
      setExpanding(false);
    }
  };
  const chosen = selected ? graph.nodes.get(selected) : undefined;

  return (
    <div className="lineage">
      <div className="lineage-bar">
        <span className="muted">
          {graph.nodes.size} nodes, {graph.edges.size} edges
        </span>
        {graph.truncated ? (
          <span className="truncated" role="status">
            truncated: the node limit or the server's depth limit cut the walk short
          </span>
        ) : null}
        <span className="spacer" />
        <button type="button" onClick={() => svg.current && download("lineage.svg", "image/svg+xml", serialise(svg.current))}>
          Export SVG
        </button>
        <button type="button" onClick={() => download("lineage.dot", "text/vnd.graphviz", toDot(graph))}>
          Export DOT
        </button>
      </div>
      {chosen ? (
        <div className="lineage-selected" role="region" aria-label="selected node">
          <KindBadge kind={chosen.kind} /> <strong>{label(chosen)}</strong>{" "}
          <button type="button" onClick={() => navigate(`/node/${encodeURIComponent(chosen.id)}`)}>
            Open
          </button>{" "}
          <button type="button" disabled={expanding} onClick={() => void expand(chosen.id)}>
            Expand here
          </button>
        </div>
      ) : (
        <p className="muted hint">Click a node to open it or to expand its lineage in place.</p>
      )}
      <div className={compact ? "lineage-canvas compact" : "lineage-canvas"}>
        <svg
          ref={svg}
          xmlns="http://www.w3.org/2000/svg"
          // Compact (on a deployment's page), the picture is scaled to the page's width.
          width={compact ? undefined : drawn.width}
          height={compact ? undefined : drawn.height}
          viewBox={`0 0 ${drawn.width} ${drawn.height}`}
          role="img"
          aria-label="lineage graph"
          fontFamily="system-ui, sans-serif"
        >
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" fill="#98a2b3" />
            </marker>
          </defs>
          {[...graph.edges.values()].map((e) => {
            const a = drawn.positions.get(e.from);
            const b = drawn.positions.get(e.to);
            if (!a || !b) return null;
            // Drawn left to right, from what was derived from to what was derived.
            const [left, right] = a.x <= b.x ? [a, b] : [b, a];
            const x1 = left.x + BOX.w;
            const y1 = left.y + BOX.h / 2;
            const x2 = right.x;
            const y2 = right.y + BOX.h / 2;
            const mid = (x1 + x2) / 2;
            return (
              <path
                key={e.id}
                className="edge"
                d={`M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`}
                fill="none"
                stroke="#98a2b3"
                strokeWidth={1.5}
                markerEnd="url(#arrow)"
              >
                <title>{e.customKind ?? e.kind.toLowerCase()}</title>
              </path>
            );
          })}
          {[...graph.nodes.values()].map((n) => {
            const p = drawn.positions.get(n.id)!;
            const root = n.id === id;
            return (
              <g
                key={n.id}
                className="lineage-node"
                data-id={n.id}
                data-kind={n.kind}
                transform={`translate(${p.x},${p.y})`}
                onClick={() => setSelected(n.id)}
                role="button"
                aria-label={`${n.kind} ${label(n)}`}
                tabIndex={0}
                onKeyDown={(event) => event.key === "Enter" && setSelected(n.id)}
              >
                <rect
                  width={BOX.w}
                  height={BOX.h}
                  rx={6}
                  fill={KIND_COLOURS[n.kind] ?? "#667085"}
                  stroke={n.id === selected ? "#1d2330" : root ? "#f5c542" : "none"}
                  strokeWidth={n.id === selected || root ? 3 : 0}
                />
                <text x={8} y={13} fontSize={9} fill="#ffffff" opacity={0.85}>
                  {n.caption}
                </text>
                <text x={8} y={27} fontSize={12} fill="#ffffff" fontWeight={600}>
                  {shorten(label(n))}
                </text>
                <title>{`${n.caption} ${label(n)}`}</title>
              </g>
            );
          })}
        </svg>
      </div>
    </div>
  );
}

function ask(id: string, options: Options): Promise<LineageData> {
  return gql<LineageData>(LINEAGE, {
    id,
    direction: options.direction,
    depth: options.depth,
    kinds: options.kinds.length ? options.kinds : null,
    limit: options.limit,
  });
}

function serialise(svg: SVGSVGElement): string {
  const copy = svg.cloneNode(true) as SVGSVGElement;
  copy.querySelectorAll("[tabindex],[role]").forEach((e) => {
    e.removeAttribute("tabindex");
    e.removeAttribute("role");
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(copy)}\n`;
}

/** The lineage page of a node: the picture, with the walk's direction, depth, kinds and limit chosen. */
export function LineagePage() {
  const { id = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const direction = (DIRECTIONS as readonly string[]).includes(params.get("direction") ?? "")
    ? (params.get("direction") as Direction)
    : "BOTH";
  const depth = Math.min(10, Math.max(1, Number(params.get("depth")) || 3));
  const limit = Math.min(2000, Math.max(1, Number(params.get("limit")) || 200));
  const kinds = params.getAll("kind").filter((k) => KINDS.includes(k));
  const set = (name: string, value: string | string[]) => {
    const next = new URLSearchParams(params);
    next.delete(name);
    (Array.isArray(value) ? value : [value]).forEach((v) => next.append(name, v));
    setParams(next, { replace: true });
  };
  return (
    <div className="lineage-page">
      <h2>
        Lineage of <Link to={`/node/${encodeURIComponent(id)}`}>this node</Link>
      </h2>
      <form className="search-form" onSubmit={(e) => e.preventDefault()}>
        <label>
          Direction
          <select value={direction} onChange={(e) => set("direction", e.target.value)}>
            {DIRECTIONS.map((d) => (
              <option key={d} value={d}>
                {d.toLowerCase()}
              </option>
            ))}
          </select>
        </label>
        <label>
          Depth
          <input type="number" min={1} max={10} value={depth} onChange={(e) => set("depth", e.target.value)} />
        </label>
        <label>
          Node limit
          <input type="number" min={1} max={2000} value={limit} onChange={(e) => set("limit", e.target.value)} />
        </label>
        <fieldset className="kinds">
          <legend>Kinds (none: all)</legend>
          {KINDS.map((kind) => (
            <label key={kind} className="check">
              <input
                type="checkbox"
                checked={kinds.includes(kind)}
                onChange={() => set("kind", kinds.includes(kind) ? kinds.filter((k) => k !== kind) : [...kinds, kind])}
              />
              {kind.toLowerCase()}
            </label>
          ))}
        </fieldset>
      </form>
      <LineageGraph id={id} options={{ direction, depth, kinds, limit }} />
    </div>
  );
}

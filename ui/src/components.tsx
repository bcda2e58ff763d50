import { Link } from "react-router-dom";

import type { ApiError } from "./api";
import { TYPES } from "./vocabulary";

export interface NodeRef {
  id: string;
  name?: string | null;
  __typename?: string;
  kind?: string;
}

/** A kind as GraphQL names it (Dataset) from a node's kind or typename. */
export function kindOf(node: NodeRef): string {
  if (node.__typename) return node.__typename;
  return TYPES[node.kind ?? ""] ?? node.kind ?? "Node";
}

export function KindBadge({ kind }: { kind: string }) {
  return <span className={`kind kind-${kind.toLowerCase()}`}>{kind}</span>;
}

/** A link to a node's page; its name (every value from the store) rendered as text. */
export function NodeLink({ node, badge = true }: { node: NodeRef | null | undefined; badge?: boolean }) {
  if (!node) return <span className="none">none</span>;
  const kind = kindOf(node);
  return (
    <Link className="node-link" to={`/node/${encodeURIComponent(node.id)}`}>
      {badge ? <KindBadge kind={kind} /> : null}
      <span className="name">{node.name ?? "(unnamed)"}</span>
    </Link>
  );
}

export function Time({ value }: { value: string | null | undefined }) {
  if (!value) return <span className="none">none</span>;
  const date = new Date(value);
  return (
    <time dateTime={value} title={value}>
      {Number.isNaN(date.getTime()) ? value : date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z")}
    </time>
  );
}

/** JSON, pretty and collapsible; open when small. */
export function Json({ value, label }: { value: unknown; label: string }) {
  const text = JSON.stringify(value, null, 2) ?? "null";
  const empty = value == null || (typeof value === "object" && Object.keys(value as object).length === 0);
  if (empty) return <span className="none">none</span>;
  return (
    <details className="json" open={text.split("\n").length <= 12}>
      <summary>{label}</summary>
      <pre>{text}</pre>
    </details>
  );
}

export function Tags({ tags }: { tags: readonly string[] }) {
  if (tags.length === 0) return <span className="none">none</span>;
  return (
    <ul className="tags">
      {tags.map((tag) => (
        <li key={tag}>{tag}</li>
      ))}
    </ul>
  );
}

export function Problem({ error }: { error: ApiError }) {
  return (
    <p className="problem" role="alert">
      <strong>{error.code}</strong> {error.message}
    </p>
  );
}

export function Loading() {
  return <p className="loading">Loading…</p>;
}

/** A number as a person reads it: at most 4 significant digits beyond the integer part. */
export function formatValue(value: unknown): string {
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

import { type FormEvent, useState } from "react";
import { useSearchParams } from "react-router-dom";

import { Loading, NodeLink, type NodeRef, Problem, Time } from "../components";
import { useQuery } from "../hooks";

const KINDS = ["PROJECT", "DATASET", "FEATURESET", "MODEL", "RUN", "MODELPARAMS", "DEVPERF", "DEPLOYMENT", "SERVINGPERF"];
const PAGE = 25;

const SEARCH = `query Search($text: String, $tag: String, $deploymentTag: String, $attribute: AttributeInput,
                             $kinds: [NodeKind!], $first: Int, $after: String) {
  search(text: $text, tag: $tag, deploymentTag: $deploymentTag, attribute: $attribute, kinds: $kinds, first: $first, after: $after) {
    nodes { __typename id name kind createdAt tags }
    pageInfo { hasNextPage endCursor }
  }
}`;

interface SearchData {
  search: {
    nodes: (NodeRef & { createdAt: string; tags: string[] })[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

/** The attribute value as typed: JSON when it parses (3, true, "x"), otherwise the text itself. */
function attributeValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function Search() {
  const [params, setParams] = useSearchParams();
  const given = {
    text: params.get("text") ?? "",
    tag: params.get("tag") ?? "",
    deploymentTag: params.get("deploymentTag") ?? "",
    attributeKey: params.get("attributeKey") ?? "",
    attributeValue: params.get("attributeValue") ?? "",
    kinds: params.getAll("kind"),
  };
  const [form, setForm] = useState(given);
  const after = params.get("after");
  const asked = Boolean(given.text || given.tag || given.deploymentTag || given.attributeKey || given.kinds.length);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const name of ["text", "tag", "deploymentTag", "attributeKey", "attributeValue"] as const) {
      if (form[name]) next.set(name, form[name]);
    }
    form.kinds.forEach((k) => next.append("kind", k));
    setParams(next);
  };
  const toggle = (kind: string) =>
    setForm((f) => ({ ...f, kinds: f.kinds.includes(kind) ? f.kinds.filter((k) => k !== kind) : [...f.kinds, kind] }));

  return (
    <div className="search">
      <h2>Search</h2>
      <form onSubmit={submit} className="search-form">
        <label>
          Name contains
          <input name="text" value={form.text} onChange={(e) => setForm({ ...form, text: e.target.value })} />
        </label>
        <label>
          Tag
          <input name="tag" value={form.tag} onChange={(e) => setForm({ ...form, tag: e.target.value })} />
        </label>
        <label>
          Deployment tag
          <input name="deploymentTag" value={form.deploymentTag} onChange={(e) => setForm({ ...form, deploymentTag: e.target.value })} />
        </label>
        <label>
          Attribute
          <input name="attributeKey" placeholder="key" value={form.attributeKey} onChange={(e) => setForm({ ...form, attributeKey: e.target.value })} />
        </label>
        <label>
          equal to
          <input
            name="attributeValue"
            placeholder="value (JSON or text; empty: any)"
            value={form.attributeValue}
            onChange={(e) => setForm({ ...form, attributeValue: e.target.value })}
          />
        </label>
        <fieldset className="kinds">
          <legend>Kinds (none: all)</legend>
          {KINDS.map((kind) => (
            <label key={kind} className="check">
              <input type="checkbox" checked={form.kinds.includes(kind)} onChange={() => toggle(kind)} />
              {kind.toLowerCase()}
            </label>
          ))}
        </fieldset>
        <button type="submit">Search</button>
      </form>
      {asked ? <Results given={given} after={after} onNext={(cursor) => { const n = new URLSearchParams(params); n.set("after", cursor); setParams(n); }} /> : null}
      <WhereFilter />
    </div>
  );
}

function Results({ given, after, onNext }: { given: Record<string, unknown> & { kinds: string[] }; after: string | null; onNext: (cursor: string) => void }) {
  const variables = {
    text: given.text || null,
    tag: given.tag || null,
    deploymentTag: given.deploymentTag || null,
    attribute: given.attributeKey
      ? { key: given.attributeKey, value: given.attributeValue === "" ? null : attributeValue(String(given.attributeValue)) }
      : null,
    kinds: given.kinds.length ? given.kinds : null,
    first: PAGE,
    after,
  };
  const found = useQuery<SearchData>(SEARCH, variables, [JSON.stringify(variables)]);
  if (found.error) return <Problem error={found.error} />;
  if (!found.data) return <Loading />;
  return <Found page={found.data.search} onNext={onNext} />;
}

/** A page of nodes found, with a link to the next page when there is one. */
function Found({ page, onNext }: { page: SearchData["search"]; onNext: (cursor: string) => void }) {
  const { nodes, pageInfo } = page;
  if (nodes.length === 0) return <p className="empty">Nothing matches.</p>;
  return (
    <>
      <table className="results">
        <thead>
          <tr>
            <th>node</th>
            <th>tags</th>
            <th>recorded</th>
          </tr>
        </thead>
        <tbody>
          {nodes.map((n) => (
            <tr key={n.id}>
              <td>
                <NodeLink node={n} />
              </td>
              <td>{n.tags.join(", ")}</td>
              <td>
                <Time value={n.createdAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {pageInfo.hasNextPage && pageInfo.endCursor ? (
        <button type="button" onClick={() => onNext(pageInfo.endCursor!)}>
          Next page
        </button>
      ) : null}
    </>
  );
}

// The lists that take the API's filter language (where: AND, OR, NOT, per-field
// predicates, neighbours), by the kind they list and their input type.
const LISTS: Record<string, [string, string]> = {
  project: ["projects", "ProjectWhere"],
  dataset: ["datasets", "DatasetWhere"],
  featureset: ["featuresets", "FeaturesetWhere"],
  model: ["models", "ModelWhere"],
  run: ["runs", "RunWhere"],
  deployment: ["deployments", "DeploymentWhere"],
};
const WHERE_EXAMPLE = '{"OR": [{"name": {"contains": "housing"}}, {"tags": {"eq": "tabular"}}]}';

function whereQuery(kind: string): string {
  const [field, type] = LISTS[kind];
  return `query Where($where: ${type}, $first: Int, $after: String) {
    found: ${field}(where: $where, first: $first, after: $after) {
      nodes { __typename id name kind createdAt tags } pageInfo { hasNextPage endCursor }
    }
  }`;
}

/** One kind's list filtered with ``where``, written as JSON in the API's filter language. */
export function WhereFilter() {
  const [params, setParams] = useSearchParams();
  const kind = LISTS[params.get("whereKind") ?? ""] ? params.get("whereKind")! : "dataset";
  const asked = params.get("where");
  const [text, setText] = useState(asked ?? "");
  const [form, setForm] = useState(kind);
  const [problem, setProblem] = useState<string | null>(null);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    try {
      JSON.parse(text);
    } catch (error) {
      setProblem(`where is not JSON: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    setProblem(null);
    setParams(new URLSearchParams({ whereKind: form, where: text }));
  };
  return (
    <section className="where">
      <h3>Filter one kind with where</h3>
      <p className="muted">
        The API's filter language: <code>AND</code>, <code>OR</code>, <code>NOT</code>, a predicate per field (<code>eq</code>,{" "}
        <code>in</code>, <code>contains</code>, <code>startsWith</code>; <code>lt</code> to <code>gte</code> on times and metrics),{" "}
        <code>tags</code>, <code>attribute</code> and neighbours (GraphiQL's docs list each kind's fields).
      </p>
      <form onSubmit={submit} className="search-form">
        <label>
          Kind
          <select aria-label="where kind" value={form} onChange={(e) => setForm(e.target.value)}>
            {Object.keys(LISTS).map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        <label className="wide">
          where
          <textarea aria-label="where" rows={3} placeholder={WHERE_EXAMPLE} value={text} onChange={(e) => setText(e.target.value)} />
        </label>
        <button type="submit">Filter</button>
      </form>
      {problem ? (
        <p className="problem" role="alert">
          {problem}
        </p>
      ) : null}
      {asked !== null && !problem ? <WhereResults key={`${kind} ${asked}`} kind={kind} where={asked} /> : null}
    </section>
  );
}

function WhereResults({ kind, where }: { kind: string; where: string }) {
  const [after, setAfter] = useState<string | null>(null);
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(where);
  } catch {
    parsed = undefined;
  }
  const found = useQuery<{ found: SearchData["search"] }>(whereQuery(kind), { where: parsed, first: PAGE, after }, [kind, where, after]);
  if (parsed === undefined) return <p className="problem">where is not JSON</p>;
  if (found.error) return <Problem error={found.error} />;
  if (!found.data) return <Loading />;
  return <Found page={found.data.found} onNext={setAfter} />;
}

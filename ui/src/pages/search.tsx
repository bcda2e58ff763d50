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
  const { nodes, pageInfo } = found.data.search;
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

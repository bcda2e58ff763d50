import "graphiql/setup-workers/vite";
import "graphiql/style.css";
import "./graphiql.css";

import { GraphiQL } from "graphiql";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { token } from "./api";

type Params = { query: string; operationName?: string | null; variables?: unknown };

async function fetcher(params: Params, options?: { headers?: Record<string, unknown> }) {
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
  for (const [name, value] of Object.entries(options?.headers ?? {})) {
    headers[name] = String(value);
  }
  const response = await fetch("/graphql", { method: "POST", headers, body: JSON.stringify(params) });
  return response.json();
}

// The token from the UI's sign-in, in the headers editor. GraphiQL keeps its tabs and
// its history (each query run, with its headers) in the storage it is given: this
// tab's session storage, so the token is gone with the tab, as the sign-in promises.
const secret = token.get();
const headers = secret ? JSON.stringify({ Authorization: `Bearer ${secret}` }, null, 2) : "";

const EXAMPLE = `# Metagate: what your ML pipelines recorded. Ctrl-Enter runs the query;
# the docs (the book on the left) list every query and mutation.
{
  deployments(first: 5) {
    nodes {
      name
      tag
      model { name }
      servingPerf(first: 1) { nodes { periodEnd metrics } }
    }
  }
}
`;

createRoot(document.getElementById("graphiql")!).render(
  <StrictMode>
    <GraphiQL fetcher={fetcher} storage={sessionStorage} defaultQuery={EXAMPLE} initialHeaders={headers} defaultHeaders={headers} shouldPersistHeaders={false} />
  </StrictMode>,
);

// The UI's only way to the gateway: its public GraphQL API at /graphql.

const TOKEN_KEY = "metagate.token";

export const token = {
  // Kept for the browser session only (the tab), never in localStorage.
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (value: string): void => sessionStorage.setItem(TOKEN_KEY, value),
  clear: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

interface GraphQLBody<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

export function authHeaders(secret: string | null = token.get()): Record<string, string> {
  return secret ? { authorization: `Bearer ${secret}` } : {};
}

export async function gql<T>(query: string, variables: Record<string, unknown> = {}, secret?: string): Promise<T> {
  let response: Response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", ...authHeaders(secret ?? token.get()) },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError("the gateway cannot be reached", "UNAVAILABLE");
  }
  let body: GraphQLBody<T>;
  try {
    body = (await response.json()) as GraphQLBody<T>;
  } catch {
    throw new ApiError(`the gateway answered ${response.status} without a GraphQL body`, "INTERNAL");
  }
  const first = body.errors?.[0];
  if (first) {
    throw new ApiError(first.message, first.extensions?.code ?? "INTERNAL");
  }
  if (body.data == null) {
    throw new ApiError("the gateway answered no data", "INTERNAL");
  }
  return body.data;
}

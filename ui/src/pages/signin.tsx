import { type FormEvent, useState } from "react";
import { useNavigate, useSearchParams } from "react-router-dom";

import { ApiError, gql, token } from "../api";

const CHECK = "query SignIn { projects(first: 1) { nodes { id } } }";

export function SignIn() {
  const [secret, setSecret] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const next = params.get("next");
  // A path of this site only: next read as the browser reads a URL (//host, /\host or a
  // tab in between name another site).
  const parsed = next ? new URL(next, window.location.origin) : null;
  const target = parsed && parsed.origin === window.location.origin ? parsed.pathname + parsed.search + parsed.hash : "/";

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    const value = secret.trim();
    try {
      await gql(CHECK, {}, value);
    } catch (error) {
      setProblem(error instanceof ApiError ? `${error.code}: ${error.message}` : String(error));
      return;
    }
    token.set(value);
    navigate(target, { replace: true });
  };

  return (
    <div className="signin">
      <form onSubmit={submit}>
        <h1>Metagate</h1>
        <p>Paste an API token. It is kept for this browser tab only, until you sign out or close it.</p>
        <label>
          API token
          <input
            type="password"
            name="token"
            autoComplete="off"
            value={secret}
            onChange={(e) => setSecret(e.target.value)}
            autoFocus
            required
          />
        </label>
        <button type="submit">Sign in</button>
        {problem ? (
          <p className="problem" role="alert">
            {problem}
          </p>
        ) : null}
        <p className="hint">
          The first admin token is printed when the gateway first starts on a terminal (or written to the file its log
          names); <code>metagate token create</code> makes more, a reader token for read-only use.
        </p>
      </form>
    </div>
  );
}

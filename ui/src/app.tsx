import { type FormEvent, useState } from "react";
import { Link, Navigate, Route, Routes, useLocation, useNavigate } from "react-router-dom";

import { token } from "./api";
import { useQuery } from "./hooks";
import { Home } from "./pages/home";
import { HubPage } from "./pages/hub";
import { LineagePage } from "./pages/lineage";
import { NodePage } from "./pages/node";
import { RunsPage } from "./pages/runs";
import { Search } from "./pages/search";
import { SignIn } from "./pages/signin";
import { ZooPage } from "./pages/zoo";

// Whether this session may read: answered by the gateway, with the token kept (if any).
const PROBE = "query Probe { projects(first: 1) { nodes { id } } }";

export function App() {
  const location = useLocation();
  const probe = useQuery<unknown>(PROBE, {}, [token.get()]);
  if (location.pathname === "/signin") {
    return <SignIn />;
  }
  if (probe.error?.code === "UNAUTHENTICATED") {
    const next = location.pathname + location.search;
    return <Navigate to={`/signin?next=${encodeURIComponent(next)}`} replace />;
  }
  return (
    <div className="layout">
      <Header />
      <main>
        <Routes>
          <Route path="/" element={<Home />} />
          <Route path="/search" element={<Search />} />
          <Route path="/node/:id" element={<NodePage />} />
          <Route path="/node/:id/lineage" element={<LineagePage />} />
          <Route path="/node/:id/runs" element={<RunsPage />} />
          <Route path="/node/:id/hub" element={<HubPage />} />
          <Route path="/zoo" element={<ZooPage />} />
          <Route path="*" element={<p className="empty">There is no page here.</p>} />
        </Routes>
      </main>
    </div>
  );
}

function Header() {
  const navigate = useNavigate();
  const [text, setText] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    navigate(`/search?text=${encodeURIComponent(text)}`);
  };
  return (
    <header className="top">
      <Link to="/" className="brand">
        Metagate
      </Link>
      <nav>
        <Link to="/">Home</Link>
        <Link to="/search">Search</Link>
        <Link to="/zoo">Model zoo</Link>
        {/* A page of its own, loaded whole: GraphiQL is the gateway's page at /graphql. */}
        <a href="/graphql">GraphiQL</a>
      </nav>
      <form className="quick-search" onSubmit={submit} role="search">
        <input aria-label="Search by name" placeholder="Search by name" value={text} onChange={(e) => setText(e.target.value)} />
      </form>
      {token.get() ? (
        <button
          type="button"
          className="link"
          onClick={() => {
            token.clear();
            navigate("/signin");
          }}
        >
          Sign out
        </button>
      ) : null}
    </header>
  );
}

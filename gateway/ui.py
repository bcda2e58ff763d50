"""The web UI and GraphiQL, as pages the gateway serves from the UI's build (``make ui``:
ui/, built by Vite from packages pinned in ui/package-lock.json). The pages talk to the
gateway through /graphql only. Without a build, the API still serves and each page
says in one sentence how to get it."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

# The UI's own files only: its scripts, styles, fonts and GraphiQL's editor workers come
# from this origin, no script is inline and no page may frame it. (Fonts: GraphiQL's
# stylesheet carries its icon fonts as data: URLs.)
_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'{styles}; img-src 'self' data:; font-src 'self' data:;"
    " connect-src 'self'; worker-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none';"
    " form-action 'self'"
)
UI_POLICY = _POLICY.format(styles="")
# GraphiQL's editor (Monaco) positions what it draws with style attributes and style
# elements of its own: inline styles are allowed there, inline scripts still are not.
GRAPHIQL_POLICY = _POLICY.format(styles=" 'unsafe-inline'")
_NOT_BUILT = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Metagate</title>"
    "<p>The web UI is not built: install Node.js 20.19 or newer with npm, run <code>make ui</code> (or <code>make serve</code>)"
    " and reload; the API answers at <code>POST /graphql</code> meanwhile.</p>"
)
# Paths the UI answers itself (a node's page can be pasted into a ticket).
SPA_PATHS = ("/", "/signin", "/search", "/zoo", "/node/{rest:path}")


def default_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "ui" / "dist"


class _Assets(StaticFiles):
    """The build's hashed files: a new build has new names, so they are kept for good."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def cached(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                message.setdefault("headers", []).append((b"cache-control", b"public, max-age=31536000, immutable"))
            await send(message)

        await super().__call__(scope, receive, cached)


class UI:
    def __init__(self, folder: str) -> None:
        self.folder = Path(folder).expanduser() if folder else default_dir()

    @property
    def built(self) -> bool:
        return (self.folder / "index.html").is_file()

    def page(self, name: str) -> Response:
        """One of the build's HTML pages, asked again on every load (its scripts' names change with a build)."""
        policy = GRAPHIQL_POLICY if name == "graphiql.html" else UI_POLICY
        headers = {"content-security-policy": policy, "cache-control": "no-cache"}
        if not self.built:
            return HTMLResponse(_NOT_BUILT, headers=headers)
        return FileResponse(self.folder / name, media_type="text/html; charset=utf-8", headers=headers)

    def routes(self) -> list[BaseRoute]:
        async def index(request: Request) -> Response:
            return self.page("index.html")

        routes: list[BaseRoute] = [Route(path, index, methods=["GET", "HEAD"]) for path in SPA_PATHS]
        # Mounted even before a build exists: the pages say to build and reload, and then
        # their files must be found without a restart.
        routes.append(Mount("/assets", _Assets(directory=self.folder / "assets", check_dir=False)))
        return routes

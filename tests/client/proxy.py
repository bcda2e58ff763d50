"""An HTTP proxy on its own thread in front of the real gateway, which loses, delays or
replaces answers as a test scripts it: the failures a network and its proxies cause."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

import httpx

Answer = tuple[int, str, bytes]  # status, content type, body
Action = str | Answer
BAD_GATEWAY: Answer = (502, "text/html", b"<html><body>502 Bad Gateway</body></html>")


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # so that closing waits for every handler


class Proxy:
    """Each POST takes the next action of ``script``, then "forward" once it is used up:

    - "forward": to the gateway, and its answer back;
    - "lose": to the gateway, which handles it, then the connection is closed without an
      answer, as when the answer is lost on the way back;
    - "slow": nothing, until the proxy closes (the client's timeout comes first);
    - an ``Answer``: given instead of the gateway's.

    ``bodies`` holds every request body received, in order.
    """

    def __init__(self, upstream: str, script: Sequence[Action] = ()) -> None:
        self.upstream = upstream
        self.script = list(script)
        self.bodies: list[bytes] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="proxy")

    def __enter__(self) -> Proxy:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _take(self, body: bytes) -> Action:
        with self._lock:
            self.bodies.append(body)
            return self.script.pop(0) if self.script else "forward"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                action = proxy._take(body)
                self.close_connection = True
                if action == "slow":
                    proxy._closing.wait(30)
                    return
                if isinstance(action, tuple):
                    status, content_type, content = action
                    headers = {"content-type": content_type}
                else:
                    forwarded = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
                    answer = httpx.post(proxy.upstream + self.path, content=body, headers=forwarded, timeout=30)
                    if action == "lose":
                        return
                    status, content = answer.status_code, answer.content
                    headers = {k: answer.headers[k] for k in ("content-type", "x-request-id") if k in answer.headers}
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("content-length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except OSError:
                    pass  # the client stopped waiting first

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

"""The Dagster UI, safe to open in a browser: ``python -m orchestration.webserver`` (``make dev``).

Binding to loopback does not protect a UI: any web page the data engineer visits can send
requests to ``http://127.0.0.1:3000`` from the same browser, and a DNS-rebinding page can even
read the answers. So the UI (Dagster's own webserver app, built with its public API) runs behind
:class:`BrowserGuard`, which refuses:

- a ``Host`` header that is not loopback on this port or a configured name
  (``DATENWERK_UI_ALLOWED_HOSTS``, for a reverse proxy): DNS rebinding;
- a request whose ``Origin`` (or, without one, ``Referer``) is another site: cross-site requests,
  WebSockets included;
- a GraphQL mutation sent by GET (a link or an image can send a GET without any Origin).

Clients that are not browsers (curl, scripts) send no Origin and are unaffected. The Dagster
daemon (schedules, sensors, run queue, run monitoring) runs beside it, as with ``dagster dev``,
and is started again when it ends on its own (:class:`DaemonKeeper`).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from orchestration.runs import stop_child
from warehouse import paths, settings

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
MUTATION = re.compile(rb"\bmutation\b", re.IGNORECASE)
DEFAULT_PORTS = {"http": 80, "https": 443}


def allowed_hosts(port: int, extra: Iterable[str] = ()) -> frozenset[str]:
    """``host:port`` values the UI answers: loopback on its port, and the configured names
    (with their port, or on the default ports when none is given)."""
    hosts = {f"{name}:{port}" for name in LOOPBACK}
    for name in extra:
        hosts.add(name)
        if ":" not in name.rsplit("]", 1)[-1]:
            hosts.update(f"{name}:{p}" for p in DEFAULT_PORTS.values())
    return frozenset(hosts)


def _netloc(url: str) -> str | None:
    """``host:port`` of an Origin or Referer (default port filled in); None if it is not
    http(s) (``null``, ``file://``, an extension)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{parts.port or DEFAULT_PORTS[parts.scheme]}".lower()


class BrowserGuard:
    """ASGI middleware: refuses foreign Hosts, cross-site requests and mutations by GET."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str]) -> None:
        self.app, self.hosts = app, hosts

    def _host_allowed(self, host: str) -> bool:
        host = host.strip().lower()
        return host in self.hosts or any(f"{host}:{p}" in self.hosts
                                         for p in DEFAULT_PORTS.values())

    def refusal(self, scope: Scope) -> str | None:
        """Why a request is refused, or None."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if not self._host_allowed(host):
            return f"Host '{host}' is not this UI (allowed: {', '.join(sorted(self.hosts))})"
        source = headers.get("origin") or headers.get("referer")
        if source is not None and _netloc(source) not in self.hosts:
            return f"cross-site request from '{source}'"
        if scope["type"] == "http" and scope.get("method") in ("GET", "HEAD") \
                and scope.get("path", "").rstrip("/").endswith("/graphql"):
            query = parse_qs(scope.get("query_string", b""))
            if any(MUTATION.search(value) for value in query.get(b"query", [])):
                return "a GraphQL mutation must be sent by POST"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        reason = self.refusal(scope)
        if reason is None:
            await self.app(scope, receive, send)
            return
        print(f"datenwerk UI: refused {scope.get('method', 'WEBSOCKET')} {scope.get('path')}: "
              f"{reason}", file=sys.stderr, flush=True)
        if scope["type"] == "websocket":
            await receive()  # websocket.connect; closing before accepting answers 403
            await send({"type": "websocket.close", "code": 1008})
            return
        body = f"Refused: {reason}.\n".encode()
        await send({"type": "http.response.start", "status": 403, "headers": [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ]})
        await send({"type": "http.response.body", "body": body})


class DaemonKeeper:
    """The Dagster daemon (schedules, sensors, the run queue) as a child of the UI server, started
    again when it ends on its own: without it nothing runs on schedule and nobody is told. Each
    end is said on stderr; the wait between restarts doubles (1 s up to a minute), and after
    ``MAX_RESTARTS`` within ``WINDOW_SECONDS`` it gives up, saying so."""

    MAX_RESTARTS = 5
    WINDOW_SECONDS = 600.0

    def __init__(self, start: Callable[[], subprocess.Popen[Any]]) -> None:
        self._start = start
        self._lock = threading.Lock()  # a restart and the shutdown never cross
        self._stopping = threading.Event()
        self.process = start()
        self._thread = threading.Thread(target=self._keep, name="daemon-keeper", daemon=True)
        self._thread.start()

    def _keep(self) -> None:
        restarts: list[float] = []
        while True:
            status = self.process.wait()
            if self._stopping.is_set():
                return
            now = time.monotonic()
            restarts = [t for t in restarts if now - t < self.WINDOW_SECONDS] + [now]
            if len(restarts) > self.MAX_RESTARTS:
                print(f"datenwerk UI: the Dagster daemon ended (exit status {status}) for the "
                      f"{len(restarts)}th time in {self.WINDOW_SECONDS / 60:.0f} minutes; not "
                      "started again. Schedules, sensors and queued runs stay stopped: see its "
                      "output above and restart the UI.", file=sys.stderr, flush=True)
                return
            wait = min(2.0 ** (len(restarts) - 1), 60.0)
            print(f"datenwerk UI: the Dagster daemon ended (exit status {status}); schedules, "
                  f"sensors and queued runs stop without it. Starting it again in {wait:.0f} s.",
                  file=sys.stderr, flush=True)
            if self._stopping.wait(wait):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self.process = self._start()

    def stop(self) -> None:
        """End the daemon for good (SIGTERM, then SIGKILL after 15 s) and reap it."""
        with self._lock:
            self._stopping.set()
            process = self.process
        stop_child(process, signal.SIGTERM, grace_seconds=15)


def serve(host: str, port: int) -> None:
    """The daemon in a child process, the guarded webserver in this one, until Ctrl-C."""
    import uvicorn
    from dagster import DagsterInstance
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import PyProjectFileTarget
    from dagster_webserver.app import create_app_from_workspace_process_context
    from dagster_webserver.version import __version__

    from orchestration.cli import prepare_dagster_home

    settings.apply_process_environment()
    prepare_dagster_home()
    bin_dir = os.path.dirname(sys.executable)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
    os.environ["PATH"] = env["PATH"]  # the code server started below calls dbt from PATH
    daemon = DaemonKeeper(lambda: subprocess.Popen(
        [os.path.join(bin_dir, "dagster-daemon"), "run"], cwd=str(paths.REPO_ROOT), env=env))
    try:
        with (
            DagsterInstance.get() as instance,
            WorkspaceProcessContext(
                instance, version=__version__, read_only=False,
                workspace_load_target=PyProjectFileTarget(str(paths.REPO_ROOT / "pyproject.toml")),
            ) as workspace,
        ):
            app = create_app_from_workspace_process_context(workspace)
            guarded = BrowserGuard(app, allowed_hosts(port, settings.ui_allowed_hosts()))
            print(f"Datenwerk UI on http://{host}:{port} (cross-site requests refused)",
                  flush=True)
            uvicorn.run(guarded, host=host, port=port, log_level="warning")
    finally:
        daemon.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.webserver",
                                     description="The Dagster UI behind a browser guard.")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=3000)
    args = parser.parse_args(argv)
    serve(args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())

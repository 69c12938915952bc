"""What every provider stub shares: a threaded stdlib HTTP server on 127.0.0.1, port 0, a log
of the requests it saw, a scripted model and a failure mode per API key.

A stub answers from a :class:`Script`: a list of model *turns*. Which turn answers a request
is read from the request's own history (how many model turns it already holds), not from a
counter in the stub, so a resumed session continues at the next turn and a failed request
(429, …) does not use one up. Text in tool inputs may hold ``{cwd}``: the agent's working
directory as the CLI reported it in the request.

Control over HTTP (for the stubs run as a module): ``POST /__mode`` with ``{"mode": M}`` or
``{"mode": M, "key": K}``, ``POST /__script`` with a script's JSON, ``GET /__log``.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

#: ok answers from the script; the others are the failures each stub knows how to send.
MODES = ("ok", "429", "usage_limit", "overloaded", "auth")


@dataclass(frozen=True)
class Turn:
    """One answer of the model: text and tool calls, in order.

    ``blocks`` holds ``{"text": "..."}`` and ``{"tool": NAME, "input": {...}}`` items. The
    tool names are the CLI's own (Claude: Write/Edit/Bash, Codex: exec_command, Gemini:
    write_file/run_shell_command).
    """

    blocks: tuple[Mapping[str, Any], ...]

    @property
    def has_tool_calls(self) -> bool:
        return any("tool" in block for block in self.blocks)


def text(value: str) -> dict[str, Any]:
    return {"text": value}


def tool(name: str, **inputs: Any) -> dict[str, Any]:
    return {"tool": name, "input": inputs}


@dataclass
class Script:
    """The model's turns for one session; past the end the model says ``final``."""

    turns: list[Turn] = field(default_factory=list)
    final: str = "Nothing more to do."

    @classmethod
    def of(cls, *turns: list[dict[str, Any]], final: str = "Nothing more to do.") -> Script:
        return cls([Turn(tuple(blocks)) for blocks in turns], final)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Script:
        return cls.of(*data.get("turns", []), final=data.get("final", "Nothing more to do."))

    def to_json(self) -> dict[str, Any]:
        return {"turns": [list(t.blocks) for t in self.turns], "final": self.final}

    def turn(self, index: int) -> Turn:
        if index < len(self.turns):
            return self.turns[index]
        return Turn((text(self.final),))


def substitute(value: Any, cwd: str) -> Any:
    """``value`` with ``{cwd}`` replaced in every string inside it."""
    if isinstance(value, str):
        return value.replace("{cwd}", cwd)
    if isinstance(value, list):
        return [substitute(item, cwd) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, cwd) for key, item in value.items()}
    return value


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    key: str | None
    mode: str
    status: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body,
            "key": self.key,
            "mode": self.mode,
            "status": self.status,
        }


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, data: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(data).encode(), headers=headers or {})


def sse(events: list[tuple[str | None, Any]]) -> Reply:
    """A text/event-stream body; an event name of None writes only ``data:`` lines."""
    chunks = []
    for name, data in events:
        head = f"event: {name}\n" if name else ""
        chunks.append(f"{head}data: {json.dumps(data)}\n\n")
    return Reply(200, "".join(chunks).encode(), content_type="text/event-stream")


class StubServer:
    """Base of the provider stubs: subclasses implement :meth:`answer` and :meth:`api_key`."""

    name = "stub"

    def __init__(self, script: Script | None = None, *, log_file: str | None = None) -> None:
        self.script = script or Script()
        self.requests: list[LoggedRequest] = []
        self.default_mode = "ok"
        self.key_modes: dict[str, str] = {}
        #: epoch seconds of the reset a usage-limit answer announces
        self.resets_at = (int(time.time()) // 3600 + 3) * 3600
        self._lock = threading.Lock()
        self._log_file = log_file
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------------------
    def set_mode(self, mode: str, *, key: str | None = None) -> None:
        """Answer every request (or those with API key ``key``) in ``mode``."""
        if mode not in MODES:
            raise ValueError(f"unknown stub mode {mode!r}; expected one of {MODES}")
        with self._lock:
            if key is None:
                self.default_mode = mode
            else:
                self.key_modes[key] = mode

    def mode_for(self, key: str | None) -> str:
        with self._lock:
            return self.key_modes.get(key or "", self.default_mode)

    def model_requests(self) -> list[LoggedRequest]:
        """The requests that asked the model for a turn of the main conversation."""
        with self._lock:
            return [r for r in self.requests if self.is_model_request(r)]

    def is_model_request(self, request: LoggedRequest) -> bool:
        return request.method == "POST"

    # -- subclass hooks ------------------------------------------------------------------
    def api_key(self, headers: Mapping[str, str], query: Mapping[str, list[str]]) -> str | None:
        auth = headers.get("authorization", "")
        return auth.removeprefix("Bearer ").strip() or None

    def answer(self, request: LoggedRequest) -> Reply:
        raise NotImplementedError

    # -- server --------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "stub not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self, port: int = 0) -> StubServer:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                self._handle(head=True)

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def _handle(self, head: bool = False) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                reply = stub._dispatch(self.command, self.path, dict(self.headers.items()), raw)
                self.send_response(reply.status)
                self.send_header("content-type", reply.content_type)
                self.send_header("content-length", str(len(reply.body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if not head:
                    self.wfile.write(reply.body)

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StubServer:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _dispatch(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Reply:
        parts = urlsplit(target)
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        if parts.path.startswith("/__"):
            return self._control(method, parts.path, body)
        query = parse_qs(parts.query)
        key = self.api_key(lowered, query)
        request = LoggedRequest(method, parts.path, query, lowered, body, key, self.mode_for(key))
        try:
            reply = self.answer(request)
        except Exception as exc:  # a stub bug must show in the test, not hang the CLI
            reply = json_reply(500, {"error": {"type": "stub_error", "message": repr(exc)}})
        request.status = reply.status
        with self._lock:
            self.requests.append(request)
            if self._log_file:
                with open(self._log_file, "a", encoding="utf-8") as log:
                    log.write(json.dumps(request.to_json()) + "\n")
        return reply

    def _control(self, method: str, path: str, body: Any) -> Reply:
        if path == "/__log":
            with self._lock:
                return json_reply(200, [r.to_json() for r in self.requests])
        if path == "/__mode" and method == "POST":
            data = body if isinstance(body, dict) else {"mode": str(body).strip()}
            try:
                self.set_mode(str(data["mode"]), key=data.get("key"))
            except (KeyError, ValueError) as exc:
                return json_reply(400, {"error": str(exc)})
            return json_reply(200, {"ok": True})
        if path == "/__script" and method == "POST" and isinstance(body, dict):
            self.script = Script.from_json(body)
            return json_reply(200, {"ok": True})
        return json_reply(404, {"error": f"no control endpoint {method} {path}"})


def count_model_turns(items: list[Any], is_model: Callable[[Any], bool]) -> int:
    """How many runs of consecutive model-authored items ``items`` holds."""
    turns = 0
    previous = False
    for item in items:
        current = is_model(item)
        if current and not previous:
            turns += 1
        previous = current
    return turns


def main(factory: Callable[..., StubServer], argv: list[str] | None = None) -> None:
    """Run a stub in the foreground: ``python -m tests.agents.stubs.<name> [--port N]``."""
    parser = argparse.ArgumentParser(description=f"{factory.__name__}: a local provider stub")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", help="append each request as a JSON line to this file")
    parser.add_argument("--script", help="a JSON file with {turns: [[blocks...]...], final}")
    args = parser.parse_args(argv)
    script = None
    if args.script:
        with open(args.script, encoding="utf-8") as f:
            script = Script.from_json(json.load(f))
    stub = factory(script, log_file=args.log).start(args.port)
    print(stub.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        stub.stop()
        sys.exit(0)


def iter_sse_text(body: bytes) -> Iterator[Any]:
    """The ``data:`` payloads of an SSE body (for the stubs' own tests)."""
    for line in body.decode().splitlines():
        if line.startswith("data: "):
            yield json.loads(line[6:])

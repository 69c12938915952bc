"""A stub of the OpenAI Responses API, enough for Codex CLI 0.171 run offline.

Codex reaches it through a custom provider in ``$CODEX_HOME/config.toml`` (``wire_api =
"responses"``; see :func:`codex_config`) and then only ever sends ``POST /v1/responses``
(``stream: true``), as ``/work/shared/reference/offline-provider-clis.md`` records. The answer
is an SSE stream: ``response.created``, per output item ``response.output_item.added``
(+ ``response.output_text.delta`` for a message) and ``response.output_item.done``, then
``response.completed`` with the usage.

A script's tool calls are Codex's own function tools, mostly ``exec_command`` with
``{"cmd": "..."}`` (a shell command run in ``workdir`` or the session's cwd). ``{cwd}`` is the
cwd Codex states in its ``<environment_context>``.

Modes (per key, the bearer token, or for all): ``ok``; ``429`` (a plain 429, Codex retries);
``usage_limit`` (429 with a ``usage_limit_reached`` body: Codex prints "You\u2019ve hit your usage
limit…" and fails the turn without retrying); ``overloaded`` (500); ``auth`` (401).

Run alone: ``python -m tests.agents.stubs.openai --port 8770 --log requests.jsonl``.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from tests.agents.stubs.base import (
    LoggedRequest,
    Reply,
    StubServer,
    count_model_turns,
    json_reply,
    main,
    sse,
    substitute,
)

_CWD = re.compile(r"<cwd>([^<]+)</cwd>")


def codex_config(base_url: str, *, env_key: str = "STUB_API_KEY", model: str = "gpt-stub") -> str:
    """The ``config.toml`` that points Codex at the stub (a provider ``stub``)."""
    return (
        f'model = "{model}"\n'
        'model_provider = "stub"\n'
        "\n"
        "[model_providers.stub]\n"
        'name = "Stub"\n'
        f'base_url = "{base_url}/v1"\n'
        f'env_key = "{env_key}"\n'
        'wire_api = "responses"\n'
        # a failure must show at once, not after Codex's reconnect loop
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n"
    )


class OpenAIStub(StubServer):
    name = "openai"

    def is_model_request(self, request: LoggedRequest) -> bool:
        return request.method == "POST" and request.path.endswith("/responses")

    def answer(self, request: LoggedRequest) -> Reply:
        if not self.is_model_request(request):
            return json_reply(404, _error("not_found", f"stub: no {request.method} {request.path}"))
        failure = self._failure(request.mode)
        if failure is not None:
            return failure
        body = request.body if isinstance(request.body, dict) else {}
        items = body.get("input") or []
        turn = self.script.turn(count_model_turns(items, _is_model_item))
        cwd = _find_cwd(body) or "."
        output: list[dict[str, Any]] = []
        for block in turn.blocks:
            if "tool" in block:
                output.append(
                    {
                        "type": "function_call",
                        "id": f"fc_stub_{uuid.uuid4().hex[:16]}",
                        "call_id": f"call_stub_{uuid.uuid4().hex[:16]}",
                        "name": block["tool"],
                        "arguments": json.dumps(substitute(block.get("input", {}), cwd)),
                        "status": "completed",
                    }
                )
            else:
                output.append(
                    {
                        "type": "message",
                        "id": f"msg_stub_{uuid.uuid4().hex[:16]}",
                        "role": "assistant",
                        "status": "completed",
                        "content": [
                            {
                                "type": "output_text",
                                "text": substitute(block["text"], cwd),
                                "annotations": [],
                            }
                        ],
                    }
                )
        return sse(self._events(str(body.get("model", "gpt-stub")), output))

    def _failure(self, mode: str) -> Reply | None:
        if mode == "429":
            return json_reply(
                429,
                _error("rate_limit_exceeded", "Rate limit reached (stub)"),
                {"retry-after": "1"},
            )
        if mode == "usage_limit":
            return json_reply(
                429,
                {
                    "error": {
                        "type": "usage_limit_reached",
                        "message": "The usage limit has been reached (stub)",
                        "plan_type": "plus",
                        "resets_at": self.resets_at,
                        "resets_in_seconds": 3600,
                    }
                },
            )
        if mode == "overloaded":
            return json_reply(500, _error("server_error", "The server is overloaded (stub)"))
        if mode == "auth":
            return json_reply(401, _error("invalid_api_key", "Incorrect API key (stub)"))
        return None

    def _events(self, model: str, output: list[dict[str, Any]]) -> list[tuple[str | None, Any]]:
        response_id = f"resp_stub_{uuid.uuid4().hex[:16]}"
        shell = {"id": response_id, "object": "response", "model": model, "output": []}
        events: list[tuple[str | None, Any]] = [
            (
                "response.created",
                {"type": "response.created", "response": {**shell, "status": "in_progress"}},
            )
        ]
        for index, item in enumerate(output):
            opening = dict(item, status="in_progress")
            if item["type"] == "message":
                opening["content"] = []
            events.append(
                (
                    "response.output_item.added",
                    {"type": "response.output_item.added", "output_index": index, "item": opening},
                )
            )
            if item["type"] == "message":
                text = item["content"][0]["text"]
                half = len(text) // 2
                for delta in (text[:half], text[half:]):
                    events.append(
                        (
                            "response.output_text.delta",
                            {
                                "type": "response.output_text.delta",
                                "item_id": item["id"],
                                "output_index": index,
                                "content_index": 0,
                                "delta": delta,
                            },
                        )
                    )
            events.append(
                (
                    "response.output_item.done",
                    {"type": "response.output_item.done", "output_index": index, "item": item},
                )
            )
        usage = {
            "input_tokens": 300,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 20 * len(output),
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 300 + 20 * len(output),
        }
        completed = {**shell, "status": "completed", "output": output, "usage": usage}
        events.append(("response.completed", {"type": "response.completed", "response": completed}))
        return events


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "code": kind, "message": message}}


def _is_model_item(item: Any) -> bool:
    """An input item the model wrote: its messages and its tool calls (one turn may hold
    several, consecutive)."""
    if not isinstance(item, dict):
        return False
    kind = item.get("type")
    if kind in {"function_call", "custom_tool_call", "local_shell_call", "reasoning"}:
        return True
    return kind == "message" and item.get("role") == "assistant"


def _find_cwd(body: dict[str, Any]) -> str | None:
    """The cwd Codex states in the ``<environment_context>`` of its input."""
    found = _CWD.search(json.dumps(body.get("input") or []))
    return json.loads(f'"{found.group(1)}"') if found else None


def input_texts(body: Any) -> list[str]:
    """Every text, tool call and tool output in a logged request's input (its history)."""
    texts: list[str] = []
    for item in (body or {}).get("input", []) if isinstance(body, dict) else []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message":
            for part in item.get("content") or []:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    texts.append(part["text"])
        elif item.get("type") == "function_call":
            texts.append(str(item.get("arguments", "")))
        elif item.get("type") == "function_call_output":
            output = item.get("output")
            texts.append(output if isinstance(output, str) else json.dumps(output))
    return texts


if __name__ == "__main__":
    main(OpenAIStub)

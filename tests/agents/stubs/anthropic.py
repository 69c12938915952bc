"""A stub of the Anthropic Messages API, enough for Claude Code 2.1.197 run offline.

It answers ``HEAD /`` (Bun's connectivity check) and ``POST /v1/messages?beta=true``
(streaming SSE, or plain JSON when ``stream`` is false), as
``/work/shared/reference/offline-provider-clis.md`` records the real CLI using them.
Requests with no ``tools`` are side requests (a session title) and get a short text.

Modes (per API key or for all): ``ok`` (the script), ``429`` (rate_limit_error + retry-after),
``usage_limit`` (429 + ``anthropic-ratelimit-unified-status: rejected`` and reset headers: with
``CLAUDE_CODE_OAUTH_TOKEN`` auth the CLI prints the subscriber "You've hit your session limit"),
``overloaded`` (529), ``auth`` (401). The key of a request is its ``x-api-key`` or its bearer
token, so "account A is limited, account B is fine" is ``set_mode("usage_limit", key=A)``.

Run alone: ``python -m tests.agents.stubs.anthropic --port 8765 --log requests.jsonl``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
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

_CWD = re.compile(r"Primary working directory: (\S+)")


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


class AnthropicStub(StubServer):
    name = "anthropic"

    def api_key(self, headers: Mapping[str, str], query: Mapping[str, list[str]]) -> str | None:
        return headers.get("x-api-key") or super().api_key(headers, query)

    def is_model_request(self, request: LoggedRequest) -> bool:
        body = request.body
        return (
            request.method == "POST"
            and request.path == "/v1/messages"
            and isinstance(body, dict)
            and bool(body.get("tools"))
        )

    def answer(self, request: LoggedRequest) -> Reply:
        if request.method == "HEAD" or (request.method == "GET" and request.path == "/"):
            return Reply(200, b"")
        if request.path != "/v1/messages" or request.method != "POST":
            return json_reply(404, _error("not_found_error", f"stub: no {request.path}"))
        failure = self._failure(request.mode)
        if failure is not None:
            return failure
        body = request.body if isinstance(request.body, dict) else {}
        if not body.get("tools"):
            blocks: list[dict[str, Any]] = [{"type": "text", "text": "Stub session"}]
            stop_reason = "end_turn"
        else:
            blocks, stop_reason = self._turn_blocks(body)
        message_id = f"msg_stub_{uuid.uuid4().hex[:20]}"
        model = str(body.get("model", "claude-stub"))
        if not body.get("stream"):
            return json_reply(200, self._message(message_id, model, blocks, stop_reason))
        return sse(self._events(message_id, model, blocks, stop_reason))

    def _failure(self, mode: str) -> Reply | None:
        if mode == "429":
            return json_reply(
                429,
                _error("rate_limit_error", "Rate limited (stub)"),
                {"retry-after": "1", "request-id": "req_stub_429"},
            )
        if mode == "usage_limit":
            return json_reply(
                429,
                _error("rate_limit_error", "This request would exceed your rate limit (stub)"),
                {
                    "request-id": "req_stub_usage",
                    "anthropic-ratelimit-unified-status": "rejected",
                    "anthropic-ratelimit-unified-reset": str(self.resets_at),
                    "anthropic-ratelimit-unified-representative-claim": "five_hour",
                    "anthropic-ratelimit-unified-5h-status": "rejected",
                    "anthropic-ratelimit-unified-5h-reset": str(self.resets_at),
                    "anthropic-ratelimit-unified-overage-status": "rejected",
                    "anthropic-ratelimit-unified-overage-disabled-reason": "org_level_disabled",
                },
            )
        if mode == "overloaded":
            return json_reply(529, _error("overloaded_error", "Overloaded (stub)"))
        if mode == "auth":
            return json_reply(401, _error("authentication_error", "invalid x-api-key (stub)"))
        return None

    def _turn_blocks(self, body: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str]:
        messages = body.get("messages") or []
        index = count_model_turns(messages, _is_model_turn)
        turn = self.script.turn(index)
        cwd = _find_cwd(body) or "."
        blocks: list[dict[str, Any]] = []
        for block in turn.blocks:
            if "tool" in block:
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": f"toolu_stub_{uuid.uuid4().hex[:20]}",
                        "name": block["tool"],
                        "input": substitute(block.get("input", {}), cwd),
                    }
                )
            else:
                blocks.append({"type": "text", "text": substitute(block["text"], cwd)})
        return blocks, "tool_use" if turn.has_tool_calls else "end_turn"

    @staticmethod
    def _usage(output_tokens: int) -> dict[str, Any]:
        return {
            "input_tokens": 200,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": output_tokens,
        }

    def _message(
        self, message_id: str, model: str, blocks: list[dict[str, Any]], stop_reason: str
    ) -> dict[str, Any]:
        return {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": blocks,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": self._usage(20 * len(blocks)),
        }

    def _events(
        self, message_id: str, model: str, blocks: list[dict[str, Any]], stop_reason: str
    ) -> list[tuple[str | None, Any]]:
        start = self._message(message_id, model, [], stop_reason)
        start["stop_reason"] = None
        start["usage"] = self._usage(1)
        events: list[tuple[str | None, Any]] = [
            ("message_start", {"type": "message_start", "message": start}),
            ("ping", {"type": "ping"}),
        ]
        for index, block in enumerate(blocks):
            if block["type"] == "text":
                opening: dict[str, Any] = {"type": "text", "text": ""}
                payload, delta_type, field = block["text"], "text_delta", "text"
            else:
                opening = {"type": "tool_use", "id": block["id"], "name": block["name"]}
                opening["input"] = {}
                payload = json.dumps(block["input"])
                delta_type, field = "input_json_delta", "partial_json"
            events.append(
                (
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": opening},
                )
            )
            half = len(payload) // 2
            for chunk in (payload[:half], payload[half:]):
                events.append(
                    (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": delta_type, field: chunk},
                        },
                    )
                )
            events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": 20 * len(blocks)},
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        return events


def _is_model_turn(message: Any) -> bool:
    """An assistant message the model wrote (not one the CLI made up itself).

    Resuming a session whose last request failed (a usage limit), Claude Code 2.1.197 adds a
    user text "Continue from where you left off." and an assistant "No response requested."
    of its own; that one is no model turn.
    """
    if not isinstance(message, dict) or message.get("role") != "assistant":
        return False
    return _texts(message.get("content")) != ["No response requested."]


def _find_cwd(body: Mapping[str, Any]) -> str | None:
    """The working directory Claude Code states in its system prompt."""
    for chunk in _texts(body.get("system")) + _texts(body.get("messages")):
        found = _CWD.search(chunk)
        if found:
            return found.group(1)
    return None


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [t for item in value for t in _texts(item)]
    if isinstance(value, dict):
        return _texts(value.get("text")) + _texts(value.get("content"))
    return []


def message_texts(body: Any) -> list[str]:
    """Every text and tool input in a logged request's messages (to look for history)."""
    found: list[str] = []
    for message in (body or {}).get("messages", []) if isinstance(body, dict) else []:
        content = message.get("content")
        if isinstance(content, str):
            found.append(content)
            continue
        for block in content or []:
            if block.get("type") == "text":
                found.append(block.get("text", ""))
            elif block.get("type") == "tool_use":
                found.append(json.dumps(block.get("input")))
            elif block.get("type") == "tool_result":
                found.append(json.dumps(block.get("content")))
    return found


if __name__ == "__main__":
    main(AnthropicStub)

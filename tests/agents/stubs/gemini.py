"""A stub of the Gemini API (generativelanguage ``v1beta``), enough for Gemini CLI 0.61 offline.

Gemini CLI reaches it with ``GOOGLE_GEMINI_BASE_URL`` and ``GEMINI_API_KEY``, and with
``{"security": {"auth": {"selectedType": "gemini-api-key"}}}`` in
``$GEMINI_CLI_HOME/.gemini/settings.json`` (without it 0.61 picks the "gateway" auth and exits
41; see :func:`gemini_settings`). It sends, per turn, a router request
``POST /v1beta/models/<flash-lite>:generateContent`` (a classifier that wants JSON; the stub
answers "flash") and then ``POST /v1beta/models/<model>:streamGenerateContent?alt=sse``: the
turn, one SSE ``data:`` chunk holding the text and function calls.

A script's tool calls are Gemini CLI's tools (``run_shell_command`` with ``{"command"}``,
``write_file`` with ``{"file_path", "content"}``). ``{cwd}`` is the workspace directory Gemini
CLI names in its first user message.

Modes (per key, the ``x-goog-api-key`` header, or for all): ``ok``; ``429`` (a bare
RESOURCE_EXHAUSTED: the CLI retries for minutes); ``usage_limit`` (429 with a per-day
``QuotaFailure``: "You have exhausted your daily quota", no retry, exit 173); ``overloaded``
(503); ``auth`` (400 API_KEY_INVALID).

Run alone: ``python -m tests.agents.stubs.gemini --port 8780 --log requests.jsonl``.
"""

from __future__ import annotations

import json
import re
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

_CWD = re.compile(r"\*\*Workspace Directories:\*\*\s*- (/\S+)")


def gemini_settings() -> dict[str, Any]:
    """``.gemini/settings.json`` of an API-key account (the auth type the CLI must use)."""
    return {"security": {"auth": {"selectedType": "gemini-api-key"}}}


class GeminiStub(StubServer):
    name = "gemini"

    def api_key(self, headers: Mapping[str, str], query: Mapping[str, list[str]]) -> str | None:
        return headers.get("x-goog-api-key") or (query.get("key") or [None])[0]

    def is_model_request(self, request: LoggedRequest) -> bool:
        return request.method == "POST" and request.path.endswith(":streamGenerateContent")

    def answer(self, request: LoggedRequest) -> Reply:
        if request.method != "POST" or not re.search(
            r":(stream)?[gG]enerateContent$", request.path
        ):
            return json_reply(404, _error(404, "NOT_FOUND", f"stub: no {request.path}"))
        failure = self._failure(request.mode)
        if failure is not None:
            return failure
        body = request.body if isinstance(request.body, dict) else {}
        if not self.is_model_request(request):
            # the model router: a JSON verdict
            verdict = {"complexity_reasoning": "A simple task (stub).", "complexity_score": 10}
            return json_reply(200, _response([{"text": json.dumps(verdict)}]))
        contents = body.get("contents") or []
        turn = self.script.turn(count_model_turns(contents, _is_model_content))
        cwd = _find_cwd(body) or "."
        parts: list[dict[str, Any]] = []
        for block in turn.blocks:
            if "tool" in block:
                args = substitute(block.get("input", {}), cwd)
                parts.append({"functionCall": {"name": block["tool"], "args": args}})
            else:
                parts.append({"text": substitute(block["text"], cwd)})
        return sse([(None, _response(parts))])

    def _failure(self, mode: str) -> Reply | None:
        if mode == "429":
            return json_reply(
                429, _error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (stub).")
            )
        if mode == "usage_limit":
            error = _error(
                429,
                "RESOURCE_EXHAUSTED",
                "You exceeded your current quota, please check your plan and billing details "
                "(stub).",
            )
            error["error"]["details"] = [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                        {
                            "quotaMetric": "generativelanguage.googleapis.com/"
                            "generate_content_free_tier_requests",
                            "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
                        }
                    ],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3600s"},
            ]
            return json_reply(429, error)
        if mode == "overloaded":
            return json_reply(503, _error(503, "UNAVAILABLE", "The model is overloaded (stub)."))
        if mode == "auth":
            return json_reply(400, _error(400, "INVALID_ARGUMENT", "API key not valid (stub)."))
        return None


def _response(parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "candidates": [
            {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {
            "promptTokenCount": 300,
            "candidatesTokenCount": 20 * len(parts),
            "totalTokenCount": 300 + 20 * len(parts),
        },
        "modelVersion": "gemini-stub",
    }


def _error(code: int, status: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


def _is_model_content(content: Any) -> bool:
    return isinstance(content, dict) and content.get("role") == "model"


def _find_cwd(body: Mapping[str, Any]) -> str | None:
    """The working directory Gemini CLI states in its first user message's session context
    (``- **Workspace Directories:**`` then ``  - /path``)."""
    for text in content_texts(body):
        found = _CWD.search(text)
        if found:
            return found.group(1)
    return None


def content_texts(body: Any) -> list[str]:
    """Every text, function call and function response in a logged request's contents."""
    texts: list[str] = []
    for content in (body or {}).get("contents", []) if isinstance(body, dict) else []:
        for part in content.get("parts") or [] if isinstance(content, dict) else []:
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif "functionCall" in part:
                texts.append(json.dumps(part["functionCall"].get("args")))
            elif "functionResponse" in part:
                texts.append(json.dumps(part["functionResponse"].get("response")))
    return texts


if __name__ == "__main__":
    main(GeminiStub)

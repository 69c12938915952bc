"""The dashboard's live stream: the domain events of ``/events``, told in the page's words.

A page opens one ``EventSource`` on ``/ui/events`` (with its scope: an initiative, an
agent) and its parts re-render on the few names this stream sends:

- ``initiatives``: an initiative, phase or task changed somewhere (cards, counts);
- ``plan``: a phase or task of the page's initiative changed;
- ``agents``: an agent changed state (nav counts, agent list, inbox);
- ``agent``: the page's agent changed state (its header and buttons);
- ``pages``: a page of the page's initiative was created, changed or deleted; the data is
  JSON: ``event``, ``id``, ``title``, ``parent_page_id``, ``updated_at`` and ``version``
  (the content's fingerprint, see ``services.pages.content_version``), never the content;
- ``output``: the page's agent wrote output; the data is the rendered HTML of the chunk,
  appended as it arrives (chunks up to ``after_chunk`` are already on the page);
- ``review``: a review comment on a phase of the page's initiative changed;
- ``settings``: an account or a project changed (the Settings screen);
- ``proposals``: a proposal of the page's initiative was created, updated, accepted,
  dismissed or refused (the Plan tab's pending proposals).
- ``chat``: a chat session, a chat message or a change set of the page's initiative changed
  (the chat panel: a reply arrived, a change set was applied or reverted).

Each message carries the domain event's ``seq`` as its id, so a browser that reconnects
(with ``Last-Event-ID``) misses nothing still retained. The page gives ``after`` (the newest
seq when it was rendered) so nothing falls between rendering and connecting.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from codewalkers.server.events import EventHub
from codewalkers.services.pages import content_version

AGENT_STATE_EVENTS = (
    "agent:spawned",
    "agent:waiting",
    "agent:answered",
    "agent:resumed",
    "agent:stopped",
    "agent:crashed",
    "agent:dismissed",
    "agent:account_switched",
)
PLAN_EVENTS = ("initiative:*", "phase:*", "task:*")
OTHER_EVENTS = ("review:*", "account:*", "project:*", "proposal:*", "chat:*", "change_set:*")
PAGE_EVENTS = ("page:*",)


@dataclass(frozen=True)
class Scope:
    initiative_id: str | None = None
    agent_id: str | None = None
    after_chunk: int = 0


def parse_sse(text: str) -> tuple[int, str, dict[str, Any]] | None:
    """``(seq, type, data)`` of one message from :meth:`EventHub.stream`; ``None`` for a
    comment or anything else."""
    seq, kind, data = None, None, None
    for line in text.splitlines():
        if line.startswith("id: "):
            seq = int(line[4:])
        elif line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
    if seq is None or kind is None or not isinstance(data, dict):
        return None
    return seq, kind, data


def message(seq: int, name: str, data: str = "") -> str:
    lines = data.splitlines() or [""]
    body = "".join(f"data: {line}\n" for line in lines)
    return f"id: {seq}\nevent: {name}\n{body}\n"


def translate(
    seq: int,
    kind: str,
    event: dict[str, Any],
    scope: Scope,
    render_output: Callable[[dict[str, Any]], str],
) -> list[str]:
    """The dashboard messages one domain event makes for a page of ``scope``."""
    out: list[str] = []
    family = kind.split(":", 1)[0]
    if family in {"initiative", "phase", "task"}:
        out.append(message(seq, "initiatives"))
        if scope.initiative_id and event.get("initiative_id") == scope.initiative_id:
            out.append(message(seq, "plan"))
    elif family == "review":
        if scope.initiative_id and event.get("initiative_id") == scope.initiative_id:
            out.append(message(seq, "review"))
    elif family == "proposal":
        if scope.initiative_id and event.get("initiative_id") == scope.initiative_id:
            out.append(message(seq, "proposals"))
    elif family in {"chat", "change_set"}:
        if scope.initiative_id and event.get("initiative_id") == scope.initiative_id:
            out.append(message(seq, "chat"))
    elif family in {"account", "project"}:
        out.append(message(seq, "settings"))
    elif family == "page":
        if scope.initiative_id and event.get("initiative_id") == scope.initiative_id:
            out.append(message(seq, "pages", page_change(kind, event.get("payload") or {})))
    elif kind == "agent:output":
        payload = event.get("payload") or {}
        if (
            scope.agent_id
            and event.get("entity_id") == scope.agent_id
            and int(payload.get("seq") or 0) > scope.after_chunk
        ):
            out.append(message(seq, "output", render_output(payload)))
    elif kind in AGENT_STATE_EVENTS:
        out.append(message(seq, "agents"))
        if scope.agent_id and event.get("entity_id") == scope.agent_id:
            out.append(message(seq, "agent"))
        if scope.initiative_id and event.get("initiative_id") == scope.initiative_id:
            out.append(message(seq, "plan"))  # the plan shows which agent runs a task
    return out


def page_change(kind: str, page: dict[str, Any]) -> str:
    """What a ``pages`` message says of a page (the editor compares ``version``)."""
    change = {
        "event": kind,
        "id": page.get("id"),
        "title": page.get("title"),
        "parent_page_id": page.get("parent_page_id"),
        "updated_at": page.get("updated_at"),
        "version": content_version(page.get("content")),
    }
    return json.dumps(change, ensure_ascii=False)


async def dashboard_stream(
    hub: EventHub,
    scope: Scope,
    after_seq: int | None,
    render_output: Callable[[dict[str, Any]], str],
) -> AsyncIterator[str]:
    types = [*PLAN_EVENTS, *AGENT_STATE_EVENTS, *OTHER_EVENTS]
    if scope.initiative_id:
        types.extend(PAGE_EVENTS)
    if scope.agent_id:
        types.append("agent:output")
    async for text in hub.stream(after_seq=after_seq, types=types):
        parsed = parse_sse(text) if text.startswith("id: ") else None
        if parsed is None:
            yield text  # "connected", "retry", heartbeats
            continue
        for chunk in translate(*parsed, scope, render_output):
            yield chunk

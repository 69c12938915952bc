"""``GET /events``: the domain events as Server-Sent Events; ``GET /events/history``: the
same events as a JSON page, for clients that poll.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from codewalkers.db import ValidationError
from codewalkers.server import models as m
from codewalkers.server.events import EventHub, parse_types
from codewalkers.server.routes._common import Db, make_router, outs

router = make_router("events")

MAX_SEQ = 2**63 - 1
TYPES_HELP = (
    "Comma-separated event types; a trailing `*` matches a prefix: "
    "`task:status_changed,phase:*`. Default: every type."
)


def _hub(request: Request) -> EventHub:
    hub: EventHub = request.app.state.events
    return hub


def _last_event_id(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        seq = int(value.strip())
    except ValueError:
        raise ValidationError(f"Last-Event-ID must be an event seq, not {value!r}") from None
    if not 0 <= seq <= MAX_SEQ:
        raise ValidationError(f"Last-Event-ID is out of range: {seq}")
    return seq


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "A stream of `id: <seq>` / `event: <type>` / `data: <json>` "
            "messages, with `: heartbeat` comments while idle.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def stream_events(
    request: Request,
    db: Db,
    types: Annotated[str | None, Query(description=TYPES_HELP, max_length=10_000)] = None,
    initiative_id: Annotated[str | None, Query(max_length=200)] = None,
    after_seq: Annotated[
        int | None,
        Query(ge=0, le=MAX_SEQ, description="Start after this seq (as Last-Event-ID does)."),
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(description="Resume: every matching event after this seq is sent first."),
    ] = None,
) -> StreamingResponse:
    """Server-Sent Events: each domain event once, in ``seq`` order, from now on (or after
    ``Last-Event-ID`` / ``after_seq``), filtered by type and initiative.
    """
    hub = _hub(request)
    resume = _last_event_id(last_event_id)
    if resume is None:
        resume = after_seq
    patterns = parse_types(types)
    # Check the filters before the stream starts: afterwards an error could not be a 422.
    await run_in_threadpool(
        db.events.find_after, 0, types=patterns or None, initiative_id=initiative_id, limit=0
    )
    return StreamingResponse(
        hub.stream(after_seq=resume, types=patterns, initiative_id=initiative_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/events/history", response_model=list[m.EventPublic])
def event_history(
    db: Db,
    after_seq: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    types: Annotated[str | None, Query(description=TYPES_HELP, max_length=10_000)] = None,
    initiative_id: Annotated[str | None, Query(max_length=200)] = None,
) -> list[m.EventPublic]:
    """Stored events after ``after_seq``, oldest first, at most ``limit``."""
    patterns = parse_types(types)
    rows = db.events.find_after(
        after_seq, types=patterns or None, initiative_id=initiative_id, limit=limit
    )
    return outs(m.EventPublic, rows)

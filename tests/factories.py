"""Tiny factories: the least a test needs to make a row, overridable by keyword."""

from __future__ import annotations

from itertools import count
from typing import Any

from codewalkers.db import (
    Account,
    Agent,
    Conversation,
    Database,
    Initiative,
    Page,
    Phase,
    Project,
    Task,
)

_n = count(1)


def make_initiative(db: Database, **fields: Any) -> Initiative:
    return db.initiatives.create(**{"name": f"initiative {next(_n)}", **fields})


def make_phase(db: Database, initiative: Initiative | None = None, **fields: Any) -> Phase:
    initiative = initiative or make_initiative(db)
    return db.phases.create(
        **{"initiative_id": initiative.id, "name": f"phase {next(_n)}", **fields}
    )


def make_task(db: Database, phase: Phase | None = None, **fields: Any) -> Task:
    if phase is None and "initiative_id" not in fields and "parent_task_id" not in fields:
        phase = make_phase(db)
    base: dict[str, Any] = {"name": f"task {next(_n)}"}
    if phase is not None:
        base["phase_id"] = phase.id
    return db.tasks.create(**{**base, **fields})


def make_agent(db: Database, **fields: Any) -> Agent:
    return db.agents.create(**fields)


def make_account(db: Database, **fields: Any) -> Account:
    return db.accounts.create(**{"email": f"user{next(_n)}@example.com", **fields})


def make_project(db: Database, **fields: Any) -> Project:
    n = next(_n)
    return db.projects.create(
        **{"name": f"project-{n}", "url": f"https://git.example.com/p{n}.git", **fields}
    )


def make_page(db: Database, initiative: Initiative | None = None, **fields: Any) -> Page:
    initiative = initiative or make_initiative(db)
    if "parent_page_id" not in fields:
        fields["parent_page_id"] = db.pages.get_or_create_root_page(initiative.id).id
    return db.pages.create(
        **{"initiative_id": initiative.id, "title": f"page {next(_n)}", **fields}
    )


def make_conversation(db: Database, **fields: Any) -> Conversation:
    if "from_agent_id" not in fields:
        fields["from_agent_id"] = make_agent(db).id
    if "to_agent_id" not in fields:
        fields["to_agent_id"] = make_agent(db).id
    return db.conversations.create(**{"question": "What is the API shape?", **fields})


def doc(*paragraphs: str) -> dict[str, Any]:
    """A Tiptap document of plain paragraphs."""
    return {
        "type": "doc",
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": text}]}
            for text in paragraphs
        ],
    }

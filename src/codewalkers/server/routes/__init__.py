"""The API's routers, one module per part of the domain; :data:`ROUTERS` lists them."""

from __future__ import annotations

from codewalkers.server.routes import (
    accounts,
    agents,
    architect,
    chat,
    conversations,
    errands,
    events,
    execution,
    initiatives,
    messages,
    pages,
    phases,
    projects,
    proposals,
    review,
    tasks,
)

ROUTERS = [
    initiatives.router,
    phases.router,
    tasks.router,
    pages.router,
    projects.router,
    accounts.router,
    agents.router,
    proposals.router,
    architect.router,
    messages.router,
    conversations.router,
    chat.router,
    errands.router,
    review.router,
    execution.router,
    events.router,
]

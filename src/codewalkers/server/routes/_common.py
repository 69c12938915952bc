"""What every router shares: the database dependency, the auth declaration, conversions."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request, Security
from fastapi.security import HTTPBearer
from pydantic import BaseModel

from codewalkers.db import Database
from codewalkers.server.errors import COMMON_RESPONSES
from codewalkers.services import lookup
from codewalkers.services.chat import ChatAgents
from codewalkers.services.errands import Errands
from codewalkers.services.execution import Executor
from codewalkers.services.runtime import AgentRuntime

M = TypeVar("M", bound=BaseModel)

# Declares the scheme in the OpenAPI document; GuardMiddleware does the checking, so that
# /openapi.json and /docs are covered too.
bearer = HTTPBearer(auto_error=False, description="The token in the workspace's .cw/api-token.")


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


Db = Annotated[Database, Depends(get_db)]


def _coordinator_part(request: Request, name: str, missing: str) -> Any:
    """``app.state.<name>`` (the runtime or the executor); 503 when the app has none."""
    part = getattr(request.app.state, name, None)
    if part is None:
        raise HTTPException(503, f"this server {missing} (start it with `cw start`)")
    return part


def get_runtime(request: Request) -> AgentRuntime:
    runtime: AgentRuntime = _coordinator_part(request, "runtime", "runs no agents")
    return runtime


#: The coordinator's agent runtime; 503 when the app was built without one.
Runtime = Annotated[AgentRuntime, Depends(get_runtime)]


def get_executor(request: Request) -> Executor:
    executor: Executor = _coordinator_part(request, "executor", "executes no initiatives")
    return executor


#: The coordinator's executor; 503 when the app was built without one.
ExecutorDep = Annotated[Executor, Depends(get_executor)]


def get_chat(request: Request) -> ChatAgents:
    chat: ChatAgents = _coordinator_part(request, "chat", "runs no agents")
    return chat


#: The coordinator's chat agents; 503 when the app was built without a runtime.
Chat = Annotated[ChatAgents, Depends(get_chat)]


def get_errands(request: Request) -> Errands:
    errands: Errands = _coordinator_part(request, "errands", "runs no agents")
    return errands


#: The coordinator's errands; 503 when the app was built without a runtime.
ErrandsDep = Annotated[Errands, Depends(get_errands)]


def resolved(entity: str) -> Any:
    """A dependency that reads the ``id`` path parameter as a full id or a unique prefix of
    one (``services.lookup``), as the CLI does."""

    def dependency(request: Request, id: str) -> str:
        return lookup.resolve(get_db(request), entity, id)

    return dependency


#: The ``id`` path parameter of an initiative, phase or task: a full id or a unique prefix.
InitiativeId = Annotated[str, Depends(resolved("initiative"))]
PhaseId = Annotated[str, Depends(resolved("phase"))]
TaskId = Annotated[str, Depends(resolved("task"))]

#: The answers of an endpoint that needs the agent runtime.
NO_RUNTIME: dict[int | str, dict[str, Any]] = {503: {"description": "This server runs no agents."}}


def make_router(tag: str) -> APIRouter:
    """A router whose endpoints need the token and may answer 401 and 422."""
    return APIRouter(tags=[tag], dependencies=[Security(bearer)], responses=dict(COMMON_RESPONSES))


def out(model: type[M], value: Any, **extra: Any) -> M:
    """``value`` (a record) as the response model, with ``extra`` fields added."""
    if extra:
        data = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
        return model.model_validate({**data, **extra})
    return model.model_validate(value, from_attributes=True)


def outs(model: type[M], values: list[Any]) -> list[M]:
    return [model.model_validate(value, from_attributes=True) for value in values]


def changes(body: BaseModel) -> dict[str, Any]:
    """The fields a PATCH body sets (explicit nulls included, to clear a column)."""
    return body.model_dump(exclude_unset=True)

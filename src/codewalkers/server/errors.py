"""One place where errors become HTTP responses, all shaped as :class:`ErrorBody`.

``NotFoundError`` → 404, ``ConflictError`` → 409, ``ValidationError`` (including
``ReferenceNotFoundError``: the input names a row that does not exist) and a body or query
that does not fit its model → 422 naming the field, ``DatabaseUnavailableError`` → 503.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from codewalkers.db import (
    ConflictError,
    DatabaseError,
    DatabaseUnavailableError,
    NotFoundError,
    ValidationError,
)
from codewalkers.server.models import ErrorBody

log = logging.getLogger("codewalkers.server")

#: The error responses every authenticated endpoint may give, for the OpenAPI document.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong API token."},
    422: {"model": ErrorBody, "description": "Invalid input; `field` names the culprit."},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "Unknown id."}
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "A unique rule, or a state that forbids it."}
}

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _body(status: int, code: str, detail: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(
        ErrorBody(detail=detail, code=code, field=field).model_dump(), status_code=status
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


async def _field_in(request: Request, message: str) -> str | None:
    """The request field a database message is about: the first word of the message that is
    a key of the JSON body, or a query or path parameter.
    """
    names: set[str] = set(request.query_params) | set(request.path_params)
    try:
        body = await request.json()
    except Exception:  # no body, or not JSON: only the parameters can be meant
        body = None
    if isinstance(body, dict):
        names.update(str(key) for key in body)
    for word in _WORD.findall(message):
        if word in names:
            return str(word)
    return None


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        parts = []
        field: str | None = None
        for error in errors:
            loc = [str(part) for part in error.get("loc", ()) if part not in ("body",)]
            if field is None:
                named = [part for part in loc if not part.isdigit() and part not in ("query",)]
                field = named[-1] if named else None
            parts.append(f"{'.'.join(loc) or 'body'}: {error.get('msg', 'invalid')}")
        return _body(422, "validation_error", "; ".join(parts) or "invalid request", field)

    @app.exception_handler(ValidationError)
    async def invalid(request: Request, exc: ValidationError) -> JSONResponse:
        message = _first_line(exc)
        return _body(422, "validation_error", message, await _field_in(request, message))

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return _body(404, "not_found", _first_line(exc))

    @app.exception_handler(ConflictError)
    async def conflict(request: Request, exc: ConflictError) -> JSONResponse:
        message = _first_line(exc)
        return _body(409, "conflict", message, await _field_in(request, message))

    @app.exception_handler(DatabaseUnavailableError)
    async def unavailable(request: Request, exc: DatabaseUnavailableError) -> JSONResponse:
        return _body(503, "unavailable", _first_line(exc))

    @app.exception_handler(DatabaseError)
    async def database_error(request: Request, exc: DatabaseError) -> JSONResponse:
        log.error("database error on %s %s", request.method, request.url.path, exc_info=exc)
        return _body(500, "database_error", _first_line(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return _body(500, "internal_error", "internal server error (see the server log)")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400:  # a body that is not even JSON: invalid input like any
            return _body(422, "validation_error", f"body: {exc.detail}", "body")
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        response = _body(exc.status_code, code, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

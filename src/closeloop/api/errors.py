"""Turning domain errors into HTTP errors that say what and where."""

from __future__ import annotations

from fastapi import HTTPException, status

from closeloop.collect.submit import RecordsRejectedError


def rejected_to_http(exc: RecordsRejectedError, *, prefix: tuple[str, ...]) -> HTTPException:
    """422 in FastAPI's own error shape: one entry per refused field with its location."""
    detail = []
    for error in exc.errors:
        loc: list[str | int] = list(prefix)
        if prefix and prefix[-1] == "items":
            loc.append(error.position)
        loc.append(error.field)
        detail.append({"loc": loc, "msg": error.message, "type": "value_error"})
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)

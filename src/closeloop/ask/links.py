"""The public survey links, built in one place for the web pages, the e-mails and the widget."""

from __future__ import annotations

from urllib.parse import urlencode


def start_path(survey_id: str, *, lang: str | None = None, embed: bool = False) -> str:
    """``/s/<survey>`` with its optional ``lang`` and ``embed`` parameters."""
    return _with_query(f"/s/{survey_id}", lang=lang, embed="1" if embed else None)


def answer_path(token: str, *, embed: bool = False, lang: str | None = None) -> str:
    """The form of the response (or invitation) with this token."""
    return _with_query(f"/r/{token}", lang=lang, embed="1" if embed else None)


def one_click_path(token: str, question_id: str, score: int) -> str:
    """The link that answers ``question_id`` with ``score`` in one click, then opens the form."""
    return _with_query(f"/r/{token}/click", q=question_id, v=str(score))


def unsubscribe_path(token: str) -> str:
    """The unsubscribe page of an invitation (also fit for a ``List-Unsubscribe`` header with POST)."""
    return f"/u/{token}"


def _with_query(path: str, **params: str | None) -> str:
    query = urlencode({name: value for name, value in params.items() if value})
    return f"{path}?{query}" if query else path

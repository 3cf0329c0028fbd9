"""What each role may do. API tokens carry scopes, which can only narrow their owner's role."""

from __future__ import annotations

from closeloop.store.models import Role

PERMISSIONS: dict[str, str] = {
    "feedback:read": "read feedback, its analysis and customers' segments",
    "feedback:write": "submit feedback (API, imports)",
    "labels:write": "correct the analysis of feedback",
    "customers:read": "read customers and consent",
    "customers:write": "create or update customers and record consent",
    "users:admin": "manage users, roles and other people's tokens",
    "audit:read": "read the audit log",
    "tokens:self": "create, list and revoke one's own API tokens",
    "feedback:export": "export feedback as CSV (audited)",
    "surveys:write": "define surveys and invitation rules, open and close surveys",
    "cases:read": "read cases (an agent: its team's only)",
    "cases:work": "work cases: take, comment, reply, change state (an agent: its team's only)",
    "cases:manage": "open cases, move them between teams, manage teams and routing rules",
    "pii:read": "see personal data unmasked: contact fields, unredacted text (each view audited)",
    "privacy:admin": "export or erase a customer's data, set retention periods, purge (audited)",
    "feedback:capture": "log what a customer said in person (frontline quick capture)",
}

_READ = {"feedback:read", "customers:read", "tokens:self", "cases:read"}
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.admin.value: frozenset(PERMISSIONS),
    Role.analyst.value: frozenset(
        _READ
        | {"feedback:write", "labels:write", "customers:write", "feedback:export", "surveys:write"}
        | {"cases:work", "cases:manage", "feedback:capture"}
    ),
    # Agents work the cases of their own team (the case routes check the team) and fix labels.
    # Agents include frontline staff, who log what customers tell them (``feedback:capture``).
    Role.agent.value: frozenset(_READ | {"labels:write", "cases:work", "feedback:capture"}),
    Role.viewer.value: frozenset(_READ),
}

ROLES = tuple(ROLE_PERMISSIONS)


def allowed(role: str, permission: str, scopes: frozenset[str] | None = None) -> bool:
    """True when ``role`` has ``permission`` and, for a token, its ``scopes`` include it."""
    if permission not in ROLE_PERMISSIONS.get(role, frozenset()):
        return False
    return scopes is None or permission in scopes


def check_scopes(role: str, scopes: list[str]) -> list[str]:
    """The scopes a token of a ``role`` user may carry; raises ValueError for unknown or excessive ones."""
    unknown = sorted(set(scopes) - set(PERMISSIONS))
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(PERMISSIONS)}")
    excessive = sorted(set(scopes) - ROLE_PERMISSIONS[role])
    if excessive:
        raise ValueError(f"a {role} cannot grant {', '.join(excessive)}")
    return sorted(set(scopes))

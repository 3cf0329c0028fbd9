"""Masked forms of contact fields, shown to people who may see that a value exists but not the value."""

from __future__ import annotations


def mask_email(email: str | None) -> str | None:
    """``zhang.san@example.com`` → ``z***@example.com``."""
    if not email:
        return email
    local, at, domain = email.partition("@")
    if not at:
        return mask_text(email)
    return f"{local[:1]}***@{domain}"


def mask_phone(phone: str | None) -> str | None:
    """``13800138000`` → ``138****8000``; short numbers keep only their last two digits."""
    if not phone:
        return phone
    digits = [c for c in phone if c.isdigit()]
    if len(digits) >= 7:
        return "".join(digits[:3]) + "****" + "".join(digits[-4:])
    return "*" * max(len(digits) - 2, 1) + "".join(digits[-2:])


def mask_text(value: str | None) -> str | None:
    """``张三丰`` → ``张**``, ``Alice Smith`` → ``A**********``: the first character only."""
    if not value:
        return value
    return value[:1] + "*" * (len(value) - 1)

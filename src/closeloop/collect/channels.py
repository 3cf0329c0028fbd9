"""Channels: the named ways feedback arrives, with their default kind and direction."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from closeloop.store.models import Channel


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    name: str
    label_zh: str
    label_en: str
    default_kind: str
    direction: str


DEFAULT_CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec("survey", "问卷调查", "Survey", "survey_answer", "direct"),
    ChannelSpec("taobao", "淘宝/天猫评价", "Taobao/Tmall reviews", "review", "indirect"),
    ChannelSpec("jd", "京东评价", "JD reviews", "review", "indirect"),
    ChannelSpec("pinduoduo", "拼多多评价", "Pinduoduo reviews", "review", "indirect"),
    ChannelSpec("app_store", "应用商店评论", "App store reviews", "review", "indirect"),
    ChannelSpec("weibo", "微博", "Weibo", "social_post", "indirect"),
    ChannelSpec("xiaohongshu", "小红书", "Xiaohongshu", "social_post", "indirect"),
    ChannelSpec("douyin", "抖音", "Douyin", "social_post", "indirect"),
    ChannelSpec("social", "社交媒体", "Social media", "social_post", "indirect"),
    ChannelSpec("wechat", "微信", "WeChat", "chat", "direct"),
    ChannelSpec("qq", "QQ", "QQ", "chat", "direct"),
    ChannelSpec("chat", "在线客服", "Live chat", "chat", "direct"),
    ChannelSpec("ticket", "工单", "Support tickets", "ticket", "direct"),
    ChannelSpec("email", "邮件", "Email", "email", "direct"),
    ChannelSpec("phone", "电话", "Phone", "call_note", "direct"),
    ChannelSpec("web", "网站反馈", "Website feedback", "suggestion", "direct"),
    ChannelSpec("community", "用户社区", "Community", "suggestion", "direct"),
    ChannelSpec("store", "门店", "In store", "call_note", "direct"),
    ChannelSpec("api", "API", "API", "review", "direct"),
)


class UnknownChannelError(ValueError):
    """A channel name that is not registered."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(
            f"unknown channel {name!r}; known channels: {', '.join(known)}. "
            f"Add it with: closeloop channel add {name}"
        )
        self.name = name


def ensure_default_channels(session: Session) -> int:
    """Register the built-in channels that are missing; returns how many were added."""
    existing = set(session.scalars(select(Channel.name)))
    added = 0
    for spec in DEFAULT_CHANNELS:
        if spec.name not in existing:
            session.add(_channel(spec))
            added += 1
    session.flush()
    return added


def _channel(spec: ChannelSpec) -> Channel:
    return Channel(
        name=spec.name,
        label_zh=spec.label_zh,
        label_en=spec.label_en,
        default_kind=spec.default_kind,
        direction=spec.direction,
    )


def get_channel(session: Session, name: str) -> Channel:
    """The channel called ``name``; raises ``UnknownChannelError`` listing the known ones."""
    channel = session.get(Channel, name)
    if channel is None:
        raise UnknownChannelError(name, list_channel_names(session))
    return channel


def list_channel_names(session: Session) -> list[str]:
    return list(session.scalars(select(Channel.name).order_by(Channel.name)))


def add_channel(
    session: Session,
    *,
    name: str,
    label_zh: str = "",
    label_en: str = "",
    default_kind: str = "review",
    direction: str = "indirect",
) -> Channel:
    """Register a new channel (idempotent for an identical name)."""
    if not name or not name.replace("_", "").replace("-", "").isalnum() or len(name) > 64:
        raise ValueError(f"channel name must be letters, digits, '-' or '_' (≤ 64), got {name!r}")
    channel = session.get(Channel, name)
    if channel is None:
        channel = Channel(
            name=name,
            label_zh=label_zh or name,
            label_en=label_en or name,
            default_kind=default_kind,
            direction=direction,
        )
        session.add(channel)
        session.flush()
    return channel

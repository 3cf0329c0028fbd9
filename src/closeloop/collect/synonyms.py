"""Column names that exports use for each feedback field, in Chinese and English.

Marketplaces (Taobao/Tmall, JD, Pinduoduo), app stores, social tools and help desks each name their
columns differently; ``FIELD_SYNONYMS`` lists, per field, the names closeloop recognises without a
``--map``. Within a field the names are in order of preference: when an export has both ``评论内容`` and
``追评内容``, the first one listed wins the field and the other stays metadata. Names are compared after
``normalize_column_name`` (case, spaces, ``_`` and ``-`` ignored).

Deliberately absent: bare ``type``/``类型`` (exports use them for 好评/差评 or ticket categories, which are
not closeloop kinds and would refuse every row), ``评价等级`` (好评/中评/差评, not a number) and ``name``
(as often a product as a person).
"""

from __future__ import annotations

import re

FIELD_SYNONYMS: dict[str, tuple[str, ...]] = {
    "text": (
        "text", "feedback_text", "content", "comment", "comments", "review", "review_text", "review_content",
        "body", "message", "feedback", "description", "verbatim", "answer",
        "评论内容", "评价内容", "评论", "评价", "内容", "留言", "留言内容", "反馈内容", "反馈",
        "意见", "意见反馈",
        "问题描述", "工单内容", "消息内容", "聊天内容", "对话内容", "正文", "微博正文", "笔记内容",
        "初评内容", "首评内容", "追评内容",
    ),
    "rating": (
        "rating", "star_rating", "stars", "star", "score", "review_rating", "rate",
        "评分", "星级", "评价星级", "打分", "分数", "得分", "商品评分", "综合评分",
    ),
    "external_id": (
        "external_id", "review_id", "comment_id", "ticket_id", "feedback_id", "message_id", "id",
        "评论ID", "评价ID", "评论编号", "评价编号", "工单号", "工单编号", "工单ID", "反馈ID", "编号",
    ),
    "created_at": (
        "created_at", "review_date", "review_time", "comment_time", "created", "created_time", "create_time",
        "review_submit_date_and_time", "submitted_at", "date", "time", "datetime", "timestamp",
        "评论时间", "评价时间", "发表时间", "发布时间", "留言时间", "反馈时间", "提交时间", "创建时间",
        "时间", "日期",
    ),
    "customer_id": (
        "customer_id", "user_id", "buyer_id", "member_id", "client_id", "contact_id", "requester_id",
        "用户ID", "买家ID", "会员ID", "客户ID", "客户编号", "会员编号", "用户编号",
    ),
    "customer_name": (
        "customer_name", "user_name", "username", "nickname", "nick", "buyer", "buyer_name", "buyer_nick",
        "author", "reviewer", "requester", "customer", "user",
        "用户名", "用户昵称", "昵称", "买家昵称", "买家", "会员名", "会员昵称", "客户名称", "客户姓名",
        "客户", "姓名",
        "用户", "评论人", "评价人",
    ),
    "customer_email": (
        "customer_email", "email", "e-mail", "email_address", "requester_email", "user_email",
        "邮箱", "电子邮箱", "邮件地址", "电子邮件",
    ),
    "customer_phone": (
        "customer_phone", "phone", "mobile", "phone_number", "telephone", "tel",
        "手机", "手机号", "手机号码", "电话", "联系电话", "电话号码",
    ),
    "customer_contact": ("customer_contact", "contact", "联系方式", "联系人方式"),
    "customer_region": (
        "customer_region", "region", "province", "city", "location", "area",
        "地区", "省份", "城市", "所在地", "地域", "收货地区",
    ),
    "customer_tier": (
        "customer_tier", "tier", "member_level", "membership", "level", "vip_level",
        "会员等级", "会员级别", "用户等级", "等级", "vip等级",
    ),
    "customer_lifetime_value": ("customer_lifetime_value", "lifetime_value", "ltv", "客户价值", "累计消费"),
    "product": (
        "product", "product_name", "item", "item_name", "sku", "goods",
        "商品", "商品名称", "宝贝名称", "宝贝标题", "商品标题", "产品", "产品名称", "SKU", "商品规格", "型号",
    ),
    "order_id": (
        "order_id", "order", "order_no", "order_number", "订单号", "订单编号", "订单ID", "子订单编号",
    ),
    "kind": ("kind", "feedback_kind", "反馈种类"),
    "language": ("language", "lang", "locale", "reviewer_language", "语言"),
    "title": ("title", "subject", "review_title", "标题", "主题", "评价标题", "笔记标题", "工单标题"),
}

_IGNORED = re.compile(r"[\s_\-]+")


def normalize_column_name(name: str) -> str:
    """The form column names are compared in: ``" Review ID"`` and ``review_id`` both give ``reviewid``."""
    return _IGNORED.sub("", name.replace("\ufeff", "")).casefold()


def synonym_index() -> dict[str, dict[str, int]]:
    """field -> {normalized synonym: preference rank (0 = best)}."""
    return {
        field: {normalize_column_name(name): rank for rank, name in reversed(list(enumerate(names)))}
        for field, names in FIELD_SYNONYMS.items()
    }

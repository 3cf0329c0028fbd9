"""UI text in Chinese (first) and English; the language comes from ?lang= or Accept-Language."""

from __future__ import annotations

from fastapi import Request

TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "app_name": "closeloop 客户反馈",
        "feedback": "反馈",
        "search": "搜索",
        "channel": "渠道",
        "all": "全部",
        "text": "内容",
        "rating": "评分",
        "created": "时间",
        "product": "产品",
        "sentiment": "情感",
        "categories": "类别",
        "no_items": "还没有反馈。用 closeloop import 导入，或运行 closeloop demo 生成演示数据。",
        "next": "下一页",
        "total_shown": "条",
        "api_docs": "API 文档",
        "positive": "正面",
        "neutral": "中性",
        "negative": "负面",
        "complaint": "投诉",
        "sign_in": "登录",
        "sign_out": "退出",
        "email": "邮箱",
        "password": "密码",
    },
    "en": {
        "app_name": "closeloop feedback",
        "feedback": "Feedback",
        "search": "Search",
        "channel": "Channel",
        "all": "All",
        "text": "Text",
        "rating": "Rating",
        "created": "Time",
        "product": "Product",
        "sentiment": "Sentiment",
        "categories": "Categories",
        "no_items": "No feedback yet. Import with closeloop import, or run closeloop demo for demo data.",
        "next": "Next page",
        "total_shown": "items",
        "api_docs": "API docs",
        "positive": "positive",
        "neutral": "neutral",
        "negative": "negative",
        "complaint": "complaint",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "email": "E-mail",
        "password": "Password",
    },
}


def pick_language(request: Request) -> str:
    """``?lang=en`` wins, then the browser's Accept-Language; Chinese by default."""
    asked = request.query_params.get("lang")
    if asked in TEXTS:
        return asked
    accept = request.headers.get("accept-language", "").lower()
    if accept.startswith("en"):
        return "en"
    return "zh"

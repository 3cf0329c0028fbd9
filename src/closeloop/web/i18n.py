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
        "survey_next": "下一步",
        "survey_submit": "提交",
        "survey_thanks": "感谢您的反馈！",
        "survey_already_answered": "您已提交过这份问卷",
        "survey_not_found": "找不到这份问卷",
        "survey_not_found_hint": "链接可能有误或已失效。",
        "survey_closed": "这份问卷已关闭",
        "survey_closed_hint": "问卷已停止收集答案，感谢您的关注。",
        "survey_more_questions": "根据您的回答，还有几个问题，请继续作答。",
        "survey_feedback_button": "反馈",
        "unsubscribe_title": "退订问卷邀请",
        "unsubscribe_question": "确认后，我们将不再向您发送问卷邀请。",
        "unsubscribe_confirm": "确认退订",
        "unsubscribed": "您已退订问卷邀请",
        "unsubscribed_hint": "我们不会再向您发送问卷邀请。",
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
        "survey_next": "Next",
        "survey_submit": "Submit",
        "survey_thanks": "Thank you for your feedback!",
        "survey_already_answered": "You have already answered this survey",
        "survey_not_found": "Survey not found",
        "survey_not_found_hint": "The link may be wrong or no longer valid.",
        "survey_closed": "This survey is closed",
        "survey_closed_hint": "It no longer takes answers. Thank you for your interest.",
        "survey_more_questions": "Your answers opened a few more questions; please continue.",
        "survey_feedback_button": "Feedback",
        "unsubscribe_title": "Unsubscribe from surveys",
        "unsubscribe_question": "Once you confirm, we will not send you survey invitations any more.",
        "unsubscribe_confirm": "Unsubscribe",
        "unsubscribed": "You are unsubscribed from surveys",
        "unsubscribed_hint": "We will not send you survey invitations any more.",
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

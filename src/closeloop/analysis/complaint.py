"""Complaint detection: negative feedback that asks for redress or signals that the customer may leave.

The cue lists are hand-written for closeloop in Chinese and English.
"""

from __future__ import annotations

import re

# Asking for redress: refund, return, exchange, compensation, a fix, a person, escalation.
REDRESS_CUES_ZH = (
    "退款",
    "退钱",
    "退货",
    "换货",
    "退换",
    "赔偿",
    "赔钱",
    "补偿",
    "索赔",
    "返现",
    "退一赔三",
    "假一赔",
    "投诉",
    "举报",
    "维权",
    "12315",
    "消协",
    "消费者协会",
    "工商",
    "曝光",
    "找你们领导",
    "找经理",
    "要求处理",
    "给个说法",
    "给我一个说法",
    "给个解释",
    "怎么处理",
    "尽快处理",
    "必须处理",
    "重新发货",
    "补发",
    "退回",
    "客服不理",
    "没人处理",
    "没人管",
    "打不通",
    "不给退",
    "不退",
    "拒绝退",
)
# Signalling churn or public damage: never again, cancelling, telling others, bad reviews.
CHURN_CUES_ZH = (
    "再也不",
    "再不会",
    "不会再",
    "永远不",
    "拉黑",
    "卸载",
    "取消订单",
    "取消会员",
    "销户",
    "注销",
    "最后一次",
    "换一家",
    "不敢再",
    "别买",
    "千万别",
    "不要买",
    "慎买",
    "慎重",
    "差评",
    "给差评",
    "骗子",
    "欺诈",
    "坑人",
)
REDRESS_CUES_EN = (
    r"refund",
    r"money back",
    r"reimburse",
    r"compensat\w*",
    r"return(ed|ing)? (it|this|them|the)",
    r"send(ing)? it back",
    r"exchange",
    r"replacement",
    r"charge ?back",
    r"dispute",
    r"complain\w*",
    r"escalat\w*",
    r"(speak|talk) to (a |the )?(manager|supervisor|human)",
    r"file a claim",
    r"report(ing)? (you|this|them)",
    r"better business bureau",
    r"bbb\b",
    r"lawyer",
    r"sue\b",
    r"fix (this|it)",
    r"credit (my|the) account",
    r"cancel(l?ed|ling)? (my )?(order|subscription|account|membership)",
)
CHURN_CUES_EN = (
    r"never (again|buy|order|use|come|coming|shop|return)",
    r"won'?t be (back|returning|ordering|buying)",
    r"will not (be back|return|buy|order)",
    r"not coming back",
    r"switch(ing)? to",
    r"last time i",
    r"lost a customer",
    r"do not buy",
    r"don'?t buy",
    r"avoid (this|them|at all)",
    r"stay away",
    r"scam",
    r"rip[- ]?off",
    r"fraud",
    r"unsubscrib\w*",
    r"one star",
)

_ZH_PATTERN = re.compile("|".join(re.escape(cue) for cue in REDRESS_CUES_ZH + CHURN_CUES_ZH))
_EN_PATTERN = re.compile(r"\b(?:" + "|".join(REDRESS_CUES_EN + CHURN_CUES_EN) + r")", re.IGNORECASE)


def complaint_cues(text: str) -> list[str]:
    """The redress or churn cues found in ``text``, in order of appearance (Chinese and English)."""
    found = [(m.start(), m.group(0)) for m in _ZH_PATTERN.finditer(text)]
    found += [(m.start(), m.group(0).lower()) for m in _EN_PATTERN.finditer(text)]
    return [cue for _, cue in sorted(found)]


def is_complaint(text: str, sentiment: str, sentiment_score: float) -> bool:
    """True when feedback is negative (or leaning so) and asks for redress or signals churn.

    A strong cue (refund, 投诉, 12315, "never again") counts even when the model only leans negative,
    since customers who ask for money back rarely write glowing reviews.
    """
    if sentiment == "positive" or sentiment_score > 0.3:
        return False
    if not complaint_cues(text):
        return False
    return sentiment == "negative" or sentiment_score < 0.0

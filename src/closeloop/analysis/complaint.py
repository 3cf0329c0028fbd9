"""Complaint detection: negative feedback that asks for redress or signals that the customer may leave.

The cue lists are hand-written for closeloop: Chinese and English in full, and the common redress and churn
phrases of German, French, Spanish, Portuguese, Italian, Dutch, Polish, Turkish, Russian, Arabic, Japanese,
Korean and Thai.
"""

from __future__ import annotations

import re

from closeloop.analysis._matching import is_unspaced_keyword

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

# Arabic: the conjunctions و ف, the prepositions ب ل and the article ال are written onto the next word, so a
# cue may carry them (والاسترجاع, بالتعويض, للاسترداد); classes cover spellings with or without hamza, ة/ه.
_AR = r"[وف]?(?:بال|لل|ال|ب|ل)?"
# Short vowel marks (harakat), shadda and tatweel: optional in Arabic writing, dropped before matching.
_ARABIC_MARKS = re.compile("[\u0640\u064b-\u065f\u0670]")

# Other languages, as regular expressions matched at a word start, case-insensitive (Japanese and Korean
# anywhere: they do not separate words). Stems end in \w* where the word inflects.
REDRESS_CUES_INTL = (
    # de
    r"rückerstattung\w*",
    r"erstattung\w*",
    r"geld zurück",
    r"zurückschicken",
    r"zurückgeschickt",
    r"reklamation\w*",
    r"reklamier\w*",
    r"beschwerde\w*",
    r"beschwer\w*",
    r"umtausch\w*",
    r"entschädigung\w*",
    r"widerruf\w*",
    r"storn\w*",
    r"kündig\w*",
    # fr
    r"rembours\w*",
    r"réclamation\w*",
    r"plainte\w*",
    r"litige\w*",
    r"dédommag\w*",
    r"indemnis\w*",
    r"échange\w*",
    r"renvoyer",
    r"retourner le",
    r"annuler ma commande",
    r"résili\w*",
    # es / pt
    r"reembols\w*",
    r"devoluci\w*",
    r"devolver",
    r"devolução",
    r"reclamaci\w*",
    r"reclamação",
    r"reclamar",
    r"queja\w*",
    r"indemniza\w*",
    r"indeniza\w*",
    r"cancelar (mi|o|a|el) (pedido|encomenda)",
    r"procon",
    r"estorno",
    r"dinheiro de volta",
    # it
    r"rimbors\w*",
    r"reclamo",
    r"reclami",
    r"restituire",
    r"restituzione",
    r"risarcimento",
    r"disdetta",
    # nl
    r"terugbetal\w*",
    r"geld terug",
    r"klacht\w*",
    r"retourneren",
    r"opzeggen",
    # pl
    r"zwrot\w*",
    r"reklamacj\w*",
    r"skarg\w*",
    r"oddać pieniądze",
    r"odszkodowan\w*",
    # tr
    r"iade",
    r"iadesi",
    r"şikayet\w*",
    r"paramı geri",
    r"tazminat\w*",
    # ru
    r"возврат\w*",
    r"вернуть деньги",
    r"верните деньги",
    r"верните",
    r"претензи\w*",
    r"жалоб\w*",
    r"компенсаци\w*",
    r"замен\w*",
    # ar: refund / return (استرداد, استرجاع, إرجاع), compensation, exchange, cancelling, complaint, my money,
    # consumer protection, the ministry of commerce, a lawyer, a lawsuit, "I want my right"
    rf"{_AR}[اأإينت]ستر[دج]\w*",
    rf"{_AR}[اأإ]رجاع\w*",
    rf"{_AR}ترجيع\w*",
    rf"{_AR}تعويض\w*",
    rf"{_AR}[اإ]ستبدال\w*",
    rf"{_AR}تبديل\w*",
    rf"{_AR}[اأإ]لغاء\w*",
    r"[اأإ]لغيت\w*",
    rf"{_AR}شكو[ىي]\w*",
    rf"{_AR}شكاو[ىي]",
    r"[سوف]?[اأنيت]شتك\w*",
    rf"{_AR}فلوسي",
    rf"{_AR}[اأ]موالي",
    rf"{_AR}رد (?:ال)?مبلغ",
    rf"{_AR}حماي[ةه] (?:ال)?مستهلك",
    rf"{_AR}وزار[ةه] التجار[ةه]",
    rf"{_AR}محام\w*",
    r"\w{0,3}رفع (?:\w+ )?قضي[ةه]",
    r"(?:[اأ]ريد|[اأ]بغى|بدي|عايز|عاوز) حقي(?!\w)",
    # ja / ko / th
    "返金",
    "返品",
    "交換して",
    "クレーム",
    "補償",
    "弁償",
    "苦情",
    "환불",
    "반품",
    "교환",
    "보상",
    "고객센터에 신고",
    "소비자원",
    "คืนเงิน",
    "เงินคืน",
    "คืนสินค้า",
    "คืนของ",
    "ส่งคืน",
    "เปลี่ยนสินค้า",
    "ขอเปลี่ยน",
    "ชดเชย",
    "เคลม",
    "ยกเลิกคำสั่งซื้อ",
    "ยกเลิกการสั่งซื้อ",
    "ยกเลิกออเดอร์",
    "ร้องเรียน",
    "แจ้งความ",
    "สคบ",
    "ฟ้อง",
    "ทนาย",
    "ขอให้รับผิดชอบ",
    "ต้องรับผิดชอบ",
    "ไม่รับผิดชอบ",
)
CHURN_CUES_INTL = (
    # de
    r"nie wieder", r"nicht mehr (bestellen|kaufen|kommen)", r"betrug\w*", r"abzocke", r"finger weg",
    # fr
    r"plus jamais", r"arnaque\w*", r"escroc\w*", r"à éviter", r"je ne (commanderai|reviendrai|rachèterai)",
    # es / pt
    r"nunca más", r"nunca mais", r"estafa\w*", r"no vuelvo", r"não volto", r"fraude",
    r"no (lo )?recomiendo", r"não recomendo",
    # it
    r"mai più", r"truffa\w*", r"sconsiglio",
    # nl
    r"nooit meer", r"oplichter\w*", r"afzetter\w*",
    # pl
    r"nigdy więcej", r"oszust\w*", r"nie polecam",
    # tr
    r"bir daha asla", r"dolandırıcı\w*", r"tavsiye etmiyorum",
    # ru
    r"больше никогда", r"никогда больше", r"обман\w*", r"мошенник\w*", r"не рекомендую",
    # ar: never again / not ... again, do not recommend, last time, scam, fraud, thieves, cheating,
    # do not buy, beware of, another company or shop, deleted the app
    r"(?:لن|ما|مش|مو|لا)(?!\w)[^.،؛؟!?,]{0,30}?مر[ةه] (?:ثاني[ةه]|[اأ]خر[ىي]|تاني[ةه]?)",
    r"(?:لن|ما|مش|مو|لا) (?:[اأني]|ب)?نصح\w*", r"[اأآ]خر مر[ةه]",
    rf"{_AR}نصاب\w*", rf"{_AR}نصب(?!\w)", rf"{_AR}[اإ]حتيال\w*", rf"{_AR}حرامي\w*", rf"{_AR}سرق[ةه]",
    rf"{_AR}غش(?:اش\w*)?(?!\w)", r"لا (?:تشتر|تطلب|تتعامل)\w*", r"[اإ]حذر(?:وا)? من", r"[اإ]بتعدوا",
    r"(?:شرك[ةه]|متجر|محل|موقع|تطبيق) [اأآ]خر[ىي]?", r"(?:حذفت|مسحت|شلت) (?:ال)?تطبيق",
    # ja / ko / th
    "二度と", "詐欺", "もう買わない", "おすすめしません",
    "다시는", "사기", "비추", "다신 안",
    "ไม่ซื้ออีก", "จะไม่ซื้อ", "ไม่ซื้อซ้ำ", "ไม่อุดหนุน", "ไม่ใช้บริการอีก", "ไม่กลับมาซื้อ", "ไม่กลับมาใช้",
    "ครั้งสุดท้าย", "เลิกใช้", "เลิกซื้อ", "ไม่แนะนำ", "ไม่ควรซื้อ", "อย่าซื้อ", "อย่าสั่ง", "เปลี่ยนไปใช้",
    "ย้ายค่าย", "หลอกลวง", "โกง", "มิจฉาชีพ", "ต้มตุ๋น", "เข็ด", "ลบแอป", "ลบแอพ", "ยกเลิกสมาชิก",
)  # fmt: skip

_ZH_PATTERN = re.compile("|".join(re.escape(cue) for cue in REDRESS_CUES_ZH + CHURN_CUES_ZH))
_EN_PATTERN = re.compile(r"\b(?:" + "|".join(REDRESS_CUES_EN + CHURN_CUES_EN) + r")", re.IGNORECASE)
_INTL_PATTERN = re.compile(
    r"(?:(?<!\w)(?:"
    + "|".join(cue for cue in REDRESS_CUES_INTL + CHURN_CUES_INTL if not is_unspaced_keyword(cue))
    + r"))|"
    + "|".join(re.escape(cue) for cue in REDRESS_CUES_INTL + CHURN_CUES_INTL if is_unspaced_keyword(cue)),
    re.IGNORECASE,
)


def complaint_cues(text: str) -> list[str]:
    """The redress or churn cues found in ``text``, in order of appearance (every language above)."""
    text = _ARABIC_MARKS.sub("", text)
    found = [(m.start(), m.group(0)) for m in _ZH_PATTERN.finditer(text)]
    found += [(m.start(), m.group(0).lower()) for m in _EN_PATTERN.finditer(text)]
    found += [(m.start(), m.group(0).lower()) for m in _INTL_PATTERN.finditer(text)]
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

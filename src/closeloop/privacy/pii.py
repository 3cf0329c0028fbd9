"""Find and redact personal data (PII) in customer feedback text, Chinese and English.

Pure functions: text in, spans or redacted text out; no I/O, no clock, no models. Every pattern is a
precompiled regular expression with bounded repetition (or anchored by a look-behind to the start of a
token), so scanning is linear in the length of the text; candidates are then checked in Python
(checksums, dates, context words).

Kinds found (`KINDS`):

- ``mobile``: Chinese mobile numbers ``1[3-9]`` + 9 digits, with an optional ``+86`` / ``0086`` / ``86`` /
  ``(+86)`` prefix and spaces or hyphens in the 3-4-4 places; never inside a longer digit run or right after
  a Latin letter (product codes).
- ``phone``: Chinese landlines with an area code and a separator: ``010-12345678``, ``(021) 1234 5678``,
  ``0755-1234567``. Written without any separator (``02112345678``) a landline is taken only right after a
  phone word (电话, 座机, 固话, 热线, tel, phone): too many other numbers look like that.
- ``id_card``: PRC resident ID numbers. 18 characters: a known province code, a real birth date
  YYYYMMDD (1900–2099) at positions 7–14 and the GB 11643-1999 ISO 7064 MOD 11-2 check character;
  15 digits (old form): province code and a real date 19YYMMDD, refused after an order keyword.
- ``bank_card``: 13–19 digits (contiguous, in groups of four separated by a space or hyphen, or Amex
  4-6-5) passing Luhn. Since one random number in ten passes Luhn, a candidate is kept only when
  (a) it does not sit right after an order or tracking keyword (订单号, 单号, 运单号, order no, tracking, # …)
  and (b) either a card word (卡, 卡号, 银行卡, 信用卡, 银联, card, visa, mastercard, unionpay) is within a
  few characters of it, or its prefix and length match a known issuer: UnionPay 62 (16–19 digits),
  Visa 4 (13/16/19), Mastercard 51–55 and 2221–2720 (16), Amex 34/37 (15), JCB 35 (16–19).
- ``email``: ASCII addresses, including ones typed with the full-width ＠ of Chinese keyboards.
- ``wechat`` / ``qq``: an ID only right after an explicit marker (微信号, 微信, vx, wx, WeChat ID, QQ号,
  QQ, 扣扣 …). Only the ID is redacted, the marker stays. A WeChat ID made only of letters is taken only
  after a colon or an explicit 号 / ID (so "wechat is terrible" is not an ID).
- ``address``: Chinese addresses anchored on a street and house number (路/街/道/巷/弄/胡同 + number +
  号/弄) that also name a province, city or district (a province name, or 省/市/区/县/镇/乡/旗/州 in the
  words just before the street), extended over building / unit / floor / room parts (号楼, 栋, 幢, A座,
  单元, 室, 楼, 层 …, and a trailing room number such as 1101 or 3-1201); English addresses "<number>
  <Capitalised Name> Street/St/Road/Rd/Avenue/Ave/Lane/Ln/Boulevard/Blvd/Drive/Dr/Way/…" with an optional
  unit (Apt, Suite, Unit, #). Conservative: a street without an administrative area ("建国路88号" alone),
  "我在北京出差", "送到小区门口" and all-lower-case English addresses are not found; a Title-Case phrase
  such as "3 Apple Pencils Way" is a known false positive.

Out of scope: personal *names* (far too error-prone in free Chinese text without a model), licence plates,
passport numbers, IP addresses.

Full-width digits, letters and punctuation (１３８…, ＠, ：, （ ）) are read as their ASCII forms; the
mapping is one character to one character, so span offsets always refer to the text as given.

Overlaps: all kinds are detected, then overlapping candidates are settled longest first and, at equal
length, by specificity (id_card > bank_card > email > mobile > phone > address > wechat > qq); so an ID
card's digits are never also a bank card or a phone. Filtering by ``kinds`` happens after that.

Placeholders (one rule): when the text contains CJK characters every span is replaced by the Chinese
placeholder (``[手机号]``, ``[身份证号]`` …), otherwise by the English one (``[phone]``, ``[id]`` …). They are
neutral nouns in brackets, so sentiment analysis of the redacted text is not pushed either way.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

# Kinds in order of specificity: on equal-length overlaps the earlier kind wins.
KINDS: tuple[str, ...] = ("id_card", "bank_card", "email", "mobile", "phone", "address", "wechat", "qq")
_SPECIFICITY = {kind: rank for rank, kind in enumerate(KINDS)}


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """One piece of personal data: its kind, where it is (``text[start:end]``) and what it says."""

    kind: str
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Placeholder:
    """The token that replaces a kind of personal data, in Chinese-context and in other text."""

    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class Redaction:
    """Redacted text and the spans (offsets into the *original* text, holding the original values).

    ``spans`` carries the personal data itself: store it only where the original may be kept (encrypted),
    never in logs.
    """

    text: str
    spans: tuple[PiiSpan, ...]


PLACEHOLDERS: Mapping[str, Placeholder] = MappingProxyType(
    {
        "mobile": Placeholder("[手机号]", "[phone]"),
        "phone": Placeholder("[电话]", "[phone]"),
        "id_card": Placeholder("[身份证号]", "[id]"),
        "bank_card": Placeholder("[银行卡号]", "[card]"),
        "email": Placeholder("[邮箱]", "[email]"),
        "wechat": Placeholder("[微信号]", "[wechat]"),
        "qq": Placeholder("[QQ号]", "[qq]"),
        "address": Placeholder("[地址]", "[address]"),
    }
)

# --- normalisation -----------------------------------------------------------------------------------

_FULLWIDTH = re.compile("[\uff01-\uff5e\u3000]")
_TO_HALFWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_ASCII_DIGIT = re.compile(r"[0-9]")
# Phones, IDs and cards have at least seven digits, QQ ids five (after a QQ marker), possibly grouped by
# spaces or hyphens: texts without such a run (most reviews: "第2单", "5星") skip those detectors.
_DIGIT_RUN = re.compile(r"[0-9](?:[ -]?[0-9]){4}")
_LONG_DIGIT_RUN = re.compile(r"[0-9](?:[ -]?[0-9]){6}")
_QQ_HINT = re.compile(r"[Qq]{2}|扣扣|企鹅号")
_ASCII_LETTER = re.compile(r"[A-Za-z]")


def _halfwidth(text: str) -> str:
    """Full-width ASCII forms and the ideographic space as ASCII, one character for one character."""
    return text.translate(_TO_HALFWIDTH) if _FULLWIDTH.search(text) else text


# --- checksums ---------------------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[ -]")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
# Province-level codes (first two digits) of GB/T 2260, plus 71 Taiwan, 81–83 HK/Macao/Taiwan residents.
_PROVINCE_CODES = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42"}
    | {"43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82"}
    | {"83", "91"}
)


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` (spaces and hyphens ignored) is at least two digits and passes the Luhn check."""
    number = _SEPARATORS.sub("", digits)
    if len(number) < 2 or not number.isascii() or not number.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(number)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def id_check_char(first17: str) -> str:
    """The GB 11643-1999 (ISO 7064 MOD 11-2) check character for the first 17 digits of an ID number."""
    return _ID_CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def _real_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def id_card_valid(number: str) -> bool:
    """True for a well-formed PRC resident ID number (spaces and hyphens ignored).

    18 characters: known province code, real birth date YYYYMMDD in 1900–2099, correct MOD 11-2 check
    character (``X`` or ``x`` for 10). 15 digits (pre-1999 form): province code and a real date 19YYMMDD.
    """
    number = _SEPARATORS.sub("", number).upper()
    if not number.isascii() or number[:2] not in _PROVINCE_CODES:
        return False
    if len(number) == 18:
        if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
            return False
        year = int(number[6:10])
        if not 1900 <= year <= 2099 or not _real_date(year, int(number[10:12]), int(number[12:14])):
            return False
        return id_check_char(number[:17]) == number[17]
    if len(number) == 15 and number.isdigit():
        return _real_date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))
    return False


# --- patterns ----------------------------------------------------------------------------------------

_MOBILE = re.compile(
    r"(?<![0-9A-Za-z+])"
    r"(?:(?:\+|00)?86[ -]?|\(\+?86\)[ -]?)?"
    r"1[3-9][0-9](?:[ -]?[0-9]{4}){2}"
    r"(?![0-9])"
)
_AREA_CODE = r"0(?:10|2[0-9]|[3-9][0-9]{2})"
_LANDLINE = re.compile(
    r"(?<![0-9A-Za-z])"
    rf"(?:\({_AREA_CODE}\)[ ]?|{_AREA_CODE}[ -])"
    r"[1-9][0-9]{2,3}[ -]?[0-9]{4}"
    r"(?![0-9])"
)
# Without a separator only right after a phone word: 座机02112345678, tel 01012345678.
_MARKED_LANDLINE = re.compile(
    r"(?:电话|座机|固话|热线|tel|phone)[ ]{0,2}(?:号码|号|:|是|为|is)?[ ]{0,2}:?[ ]{0,2}"
    rf"(?P<number>{_AREA_CODE}[1-9][0-9]{{6,7}})(?![0-9])",
    re.IGNORECASE,
)
_ID_CARD = re.compile(
    r"(?<![0-9])"
    r"(?:[1-9][0-9]{5}[ -]?(?:19|20)[0-9]{6}[ -]?[0-9]{3}[0-9Xx]"
    r"|[1-9][0-9]{5}[ -]?[0-9]{6}[ -]?[0-9]{3})"
    r"(?![0-9A-Za-z])"
)
_CARD_CONTIGUOUS = re.compile(r"(?<![0-9A-Za-z])[0-9]{13,19}(?![0-9])")
# Grouped forms must not start or end inside a longer grouped run ("1234 5678 9012 3456 7890").
_CARD_GROUPED = re.compile(
    r"(?<![0-9A-Za-z])(?<![0-9][ -])"
    r"(?:[0-9]{4}(?:[ -][0-9]{4}){2,3}(?:[ -][0-9]{1,3})?|3[47][0-9]{2}[ -][0-9]{6}[ -][0-9]{5})"
    r"(?![0-9]|[ -][0-9])"
)
_ORDER_KEYWORD_BEFORE = re.compile(
    r"(?:订单编号|订单号|订单|快递单号|运单号|物流单号|单号|"
    r"order(?:[ ]?(?:no\.?|number|id))?|tracking(?:[ ]?(?:no\.?|number|id))?|#)"
    r"[ ]{0,2}(?::|=|是|为|is)?[ ]{0,2}$",
    re.IGNORECASE,
)
_CARD_WORD = re.compile(r"卡|银联|card|visa|master|unionpay", re.IGNORECASE)
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])"
    r"[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}"
    r"@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}"
    r"[A-Za-z]{2,24}"
    r"(?![A-Za-z0-9-])"
)
_WECHAT = re.compile(
    r"(?<![A-Za-z])"
    r"(?P<marker>微信号|微信|威信|薇信|v信|vx|wx|wechat[ ]?id|wechat|weixin)"
    r"(?P<sep>[ ]{0,2}(?:账号|号|id|:|是|为|is)?[ ]{0,2}:?[ ]{0,2})"
    r"(?P<id>[A-Za-z][-_A-Za-z0-9]{5,19}|[0-9]{5,11})"
    r"(?![-_A-Za-z0-9])",
    re.IGNORECASE,
)
_STRONG_WECHAT_SEPARATOR = re.compile(r"[:号]|id", re.IGNORECASE)
_QQ = re.compile(
    r"(?<![A-Za-z])(?:qq|扣扣|企鹅号)"
    r"[ ]{0,2}(?:号码|号|:|是|为|is|number|no\.?)?[ ]{0,2}:?[ ]{0,2}"
    r"(?P<id>[1-9][0-9]{4,10})(?![0-9])",
    re.IGNORECASE,
)

_ZH_NUMBER = r"(?:[0-9]{1,5}|[一二三四五六七八九十百零〇]{1,6})"
_ZH_STREET = re.compile(rf"(?:路|街|道|巷|弄|胡同){_ZH_NUMBER}(?:号|弄)")
# Words that end a left-hand address run: verbs and particles that introduce an address, not part of it.
_ZH_ADDRESS_STOP = frozenset("到在寄送是址的我你他她住给至往于为发收从了就请拿去")
_ZH_LEFT_REACH = 24
_ZH_PROVINCES = re.compile(
    r"北京|天津|上海|重庆|河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|"
    r"广东|海南|四川|贵州|云南|陕西|甘肃|青海|台湾|内蒙古|广西|西藏|宁夏|新疆|香港|澳门"
)
_ZH_ADMIN_MARKER = re.compile(r"[省市区县镇乡旗州]")
_ZH_DETAIL = re.compile(
    r"(?:(?:(?![的了是我很在和也都就说点买吃给送])[-A-Za-z\u4e00-\u9fff]){0,10}?"
    r"(?:[0-9]{1,5}|[A-Za-z]|[一二三四五六七八九十]{1,3})"
    r"(?:号楼|号院|号|弄|栋|幢|座|单元|室|楼|层))*"
    r"(?:-?[0-9]{1,5}(?:-[0-9]{1,5}){0,2}(?![0-9]))?"
)
_EN_ADDRESS = re.compile(
    r"(?<![0-9A-Za-z])[0-9]{1,6}[A-Za-z]?"
    r"(?:[ ]{1,2}(?:[A-Z][A-Za-z'.-]{0,20}|[0-9]{1,3}(?:st|nd|rd|th))){1,4}"
    r"[ ]{1,2}(?:(?:Street|Road|Avenue|Lane|Boulevard|Drive|Court|Way|Place|Terrace|Parkway|Highway|Square)\b"
    r"|(?:St|Rd|Ave|Ln|Blvd|Dr|Ct|Pl|Pkwy|Hwy|Sq)\b\.?)"
    r"(?:,?[ ]{0,2}(?:Apt|Apartment|Suite|Ste|Unit|Room|Rm|Floor|Fl|#)\.?[ ]{0,2}#?[0-9A-Za-z-]{1,6}\b)?"
)

# --- detectors: each yields (start, end, kind) candidates on the half-width text ----------------------

_Candidate = tuple[int, int, str]


def _after_order_keyword(text: str, start: int) -> bool:
    """True when the number starting at ``start`` directly follows an order / tracking keyword."""
    return _ORDER_KEYWORD_BEFORE.search(text, max(0, start - 16), start) is not None


def _known_card_issuer(digits: str) -> bool:
    """True when prefix and length match a major card scheme (UnionPay, Visa, Mastercard, Amex, JCB)."""
    length, two, four = len(digits), int(digits[:2]), int(digits[:4])
    if two == 62 or two == 35:
        return 16 <= length <= 19
    if digits[0] == "4":
        return length in (13, 16, 19)
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return length == 16
    if two in (34, 37):
        return length == 15
    return False


def _bank_cards(text: str) -> Iterator[_Candidate]:
    for pattern in (_CARD_CONTIGUOUS, _CARD_GROUPED):
        for match in pattern.finditer(text):
            digits = _SEPARATORS.sub("", match.group())
            if not 13 <= len(digits) <= 19 or not luhn_valid(digits):
                continue
            start, end = match.span()
            if _after_order_keyword(text, start):
                continue
            near_card_word = _CARD_WORD.search(text, max(0, start - 12), min(len(text), end + 8))
            if near_card_word or _known_card_issuer(digits):
                yield start, end, "bank_card"


def _id_cards(text: str) -> Iterator[_Candidate]:
    for match in _ID_CARD.finditer(text):
        number = match.group()
        if not id_card_valid(number):
            continue
        if len(_SEPARATORS.sub("", number)) == 15 and _after_order_keyword(text, match.start()):
            continue
        yield match.start(), match.end(), "id_card"


def _simple(pattern: re.Pattern[str], kind: str, text: str) -> Iterator[_Candidate]:
    for match in pattern.finditer(text):
        yield match.start(), match.end(), kind


def _marked_landlines(text: str) -> Iterator[_Candidate]:
    for match in _MARKED_LANDLINE.finditer(text):
        yield match.start("number"), match.end("number"), "phone"


def _wechat_ids(text: str) -> Iterator[_Candidate]:
    for match in _WECHAT.finditer(text):
        introduced_by = match.group("marker") + match.group("sep")
        if match.group("id").isalpha() and not _STRONG_WECHAT_SEPARATOR.search(introduced_by):
            continue
        yield match.start("id"), match.end("id"), "wechat"


def _qq_ids(text: str) -> Iterator[_Candidate]:
    for match in _QQ.finditer(text):
        yield match.start("id"), match.end("id"), "qq"


def _zh_address_start(text: str, street_start: int) -> int | None:
    """Start of the address whose street token begins at ``street_start``, or None without an admin area."""
    start = street_start
    floor = max(0, street_start - _ZH_LEFT_REACH)
    while start > floor and _CJK.match(text, start - 1) and text[start - 1] not in _ZH_ADDRESS_STOP:
        start -= 1
    # The street name itself needs at least one character before 路/街/….
    if street_start - start < 2:
        return None
    province = _ZH_PROVINCES.search(text, start, street_start)
    if province:
        return province.start()
    if _ZH_ADMIN_MARKER.search(text, start, street_start - 1):
        return start
    return None


def _zh_addresses(text: str) -> Iterator[_Candidate]:
    covered_until = 0
    for street in _ZH_STREET.finditer(text):
        if street.start() < covered_until:
            continue
        start = _zh_address_start(text, street.start())
        if start is None:
            continue
        detail = _ZH_DETAIL.match(text, street.end())
        end = detail.end() if detail else street.end()
        covered_until = end
        yield start, end, "address"


def _candidates(text: str) -> Iterator[_Candidate]:
    """Every candidate span of every kind; overlaps are settled by the caller."""
    if _LONG_DIGIT_RUN.search(text):
        yield from _id_cards(text)
        yield from _bank_cards(text)
        yield from _simple(_MOBILE, "mobile", text)
        yield from _simple(_LANDLINE, "phone", text)
        yield from _marked_landlines(text)
    if _DIGIT_RUN.search(text) and _QQ_HINT.search(text):
        yield from _qq_ids(text)
    if _ASCII_DIGIT.search(text) and _ASCII_LETTER.search(text):
        yield from _simple(_EN_ADDRESS, "address", text)
    if "@" in text:
        yield from _simple(_EMAIL, "email", text)
    yield from _zh_addresses(text)
    yield from _wechat_ids(text)


def _settle_overlaps(candidates: list[_Candidate]) -> list[_Candidate]:
    """Non-overlapping candidates, chosen longest first and then by kind specificity; sorted by start."""
    chosen: list[_Candidate] = []
    for candidate in sorted(candidates, key=lambda c: (c[0] - c[1], _SPECIFICITY[c[2]], c[0])):
        start, end, _ = candidate
        if all(end <= other_start or start >= other_end for other_start, other_end, _ in chosen):
            chosen.append(candidate)
    return sorted(chosen)


# --- public API --------------------------------------------------------------------------------------


def _checked_kinds(kinds: Collection[str] | None) -> frozenset[str] | None:
    if kinds is None:
        return None
    wanted = frozenset(kinds)
    unknown = wanted - _SPECIFICITY.keys()
    if unknown:
        raise ValueError(f"unknown PII kind(s) {sorted(unknown)}; known kinds: {', '.join(KINDS)}")
    return wanted


def find_pii(text: str, kinds: Collection[str] | None = None) -> list[PiiSpan]:
    """Personal data in ``text``: non-overlapping spans sorted by position.

    ``kinds`` limits the result to those kinds (see `KINDS`; unknown names raise ValueError). All kinds
    are still detected first, so a number settled as an ID card is not reported as a bank card when only
    ``bank_card`` is asked for.
    """
    wanted = _checked_kinds(kinds)
    if not text:
        return []
    candidates = list(_candidates(_halfwidth(text)))
    if not candidates:
        return []
    return [
        PiiSpan(kind, start, end, text[start:end])
        for start, end, kind in _settle_overlaps(candidates)
        if wanted is None or kind in wanted
    ]


def has_pii(text: str, kinds: Collection[str] | None = None) -> bool:
    """True when `find_pii` finds anything."""
    return bool(find_pii(text, kinds))


def placeholder(kind: str, text: str) -> str:
    """The placeholder for ``kind`` in ``text``: Chinese when the text has CJK characters, else English."""
    token = PLACEHOLDERS[kind]
    return token.zh if _CJK.search(text) else token.en


def redact(text: str, kinds: Collection[str] | None = None) -> Redaction:
    """``text`` with each personal-data span replaced by its placeholder; everything else kept as is."""
    spans = find_pii(text, kinds)
    if not spans:
        return Redaction(text, ())
    chinese = _CJK.search(text) is not None
    parts: list[str] = []
    position = 0
    for span in spans:
        parts.append(text[position : span.start])
        token = PLACEHOLDERS[span.kind]
        parts.append(token.zh if chinese else token.en)
        position = span.end
    parts.append(text[position:])
    return Redaction("".join(parts), tuple(spans))

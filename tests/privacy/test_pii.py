"""PII detection and redaction: each kind found in Chinese and English feedback, look-alikes left alone."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closeloop.privacy.pii import (
    KINDS,
    PLACEHOLDERS,
    PiiSpan,
    Redaction,
    find_pii,
    has_pii,
    id_card_valid,
    id_check_char,
    luhn_valid,
    redact,
)

# --- made-up numbers with correct check digits, computed here independently of the module --------------


def iso7064_check(first17: str) -> str:
    """MOD 11-2 from its definition: weights 2^(17-i) mod 11, check = (12 - sum mod 11) mod 11."""
    total = sum(int(digit) * pow(2, 17 - index, 11) for index, digit in enumerate(first17))
    check = (12 - total % 11) % 11
    return "X" if check == 10 else str(check)


def made_up_id(region: str = "110105", birth: str = "19900307", sequence: str = "123") -> str:
    first17 = region + birth + sequence
    return first17 + iso7064_check(first17)


def with_wrong_check(number: str) -> str:
    wrong = "0" if number[-1] != "0" else "1"
    return number[:-1] + wrong


def id_where(condition, region: str = "110105", birth: str = "19900307") -> str:
    """The first made-up ID (sequence 100–999) for which ``condition`` holds."""
    for sequence in range(100, 1000):
        number = made_up_id(region, birth, str(sequence))
        if condition(number):
            return number
    raise AssertionError("no such made-up ID")


def luhn_complete(prefix: str) -> str:
    """``prefix`` plus the Luhn check digit."""
    total = 0
    for position, char in enumerate(reversed(prefix)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return prefix + str((10 - total % 10) % 10)


def grouped(number: str, separator: str = " ") -> str:
    return separator.join(number[index : index + 4] for index in range(0, len(number), 4))


UNIONPAY_19 = luhn_complete("622202123456789012")
UNIONPAY_16 = luhn_complete("621700123456789")
VISA_16 = luhn_complete("411111111111111")
AMEX_15 = luhn_complete("37828224631000")
NO_ISSUER_16 = luhn_complete("900012345678901")  # Luhn-valid, no known card scheme


def found(text: str, kinds=None) -> list[tuple[str, str]]:
    return [(span.kind, span.text) for span in find_pii(text, kinds)]


# --- checksums -----------------------------------------------------------------------------------------


def test_id_check_char_agrees_with_the_iso7064_definition():
    rng = random.Random(3)
    for _ in range(300):
        first17 = "".join(rng.choice("0123456789") for _ in range(17))
        assert id_check_char(first17) == iso7064_check(first17)


@pytest.mark.parametrize(
    "number, valid",
    [
        (made_up_id(), True),
        (made_up_id().lower(), True),
        (id_where(lambda n: n.endswith("X")), True),
        (id_where(lambda n: n.endswith("X")).lower(), True),
        (with_wrong_check(made_up_id()), False),
        (made_up_id(birth="19901332"), False),  # month 13
        (made_up_id(birth="20230229"), False),  # not a leap year
        (made_up_id(birth="18990101"), False),  # before 1900
        (made_up_id(region="990105"), False),  # no such province
        ("110105 19900307 " + made_up_id()[-4:], True),
        ("110105900307123", True),  # old 15-digit form, 1990-03-07
        ("110105901332123", False),
        ("", False),
        ("11010519900307123", False),  # 17 digits
    ],
)
def test_id_card_valid(number, valid):
    assert id_card_valid(number) is valid


@pytest.mark.parametrize(
    "digits, valid",
    [
        ("79927398713", True),
        ("79927398710", False),
        (VISA_16, True),
        (grouped(VISA_16), True),
        (grouped(VISA_16, "-"), True),
        (VISA_16[:-1] + str((int(VISA_16[-1]) + 1) % 10), False),
        ("", False),
        ("0", False),
        ("4111a11111111111", False),
        ("١٢٣٤٥٦٧٨٩٠", False),  # Arabic-Indic digits are not card digits
    ],
)
def test_luhn_valid(digits, valid):
    assert luhn_valid(digits) is valid


# --- mobile and landline -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+86 138 0013 8000",
        "+8613800138000",
        "0086-13800138000",
        "8613800138000",
        "(+86)139-1234-5678",
        "19912345678",
    ],
)
def test_mobile_numbers_in_chinese_and_english(number):
    assert found(f"快递员一直不接电话，我的手机号是{number}，请回电") == [("mobile", number)]
    assert found(f"Please call me back on {number}. Thanks") == [("mobile", number)]


def test_full_width_mobile_digits_are_found_at_their_own_offsets():
    text = "联系我：１３８００１３８０００！"
    (span,) = find_pii(text)
    assert span.kind == "mobile"
    assert text[span.start : span.end] == span.text == "１３８００１３８０００"


@pytest.mark.parametrize(
    "text",
    [
        "订单号20231123138001380001一直没发货",
        "流水号 13800138000123 查不到",  # longer digit run
        "序列号SN13800138000坏了",  # glued to a product code
        "12800138000",  # 12x is not a mobile prefix
        "1380013800",  # ten digits
    ],
)
def test_digits_that_only_look_like_a_mobile_are_not_phones(text):
    assert [kind for kind, _ in found(text) if kind in ("mobile", "phone")] == []


@pytest.mark.parametrize("number", ["010-12345678", "(021) 1234 5678", "0755-1234567", "（021）1234-5678"])
def test_landline_numbers(number):
    assert found(f"有问题请打座机{number}找客服") == [("phone", number)]
    assert found(f"The store's number is {number}, nobody answers") == [("phone", number)]


# --- ID cards ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        made_up_id(),
        made_up_id(region="440305", birth="20010229".replace("0229", "0228"), sequence="456"),
        id_where(lambda n: n.endswith("X")),
        id_where(lambda n: n.endswith("X")).replace("X", "x"),
        "110105 19900307 " + made_up_id()[-4:],
        "110105900307123",
    ],
)
def test_id_card_numbers(number):
    assert found(f"实名认证失败，身份证号{number}明明是对的") == [("id_card", number)]
    assert found(f"My ID number is {number} and the app rejects it") == [("id_card", number)]


@pytest.mark.parametrize(
    "number",
    [
        with_wrong_check(made_up_id()),
        made_up_id(birth="19901332"),
        made_up_id(region="990105"),
        "110105901332123",
    ],
)
def test_numbers_failing_the_id_checks_are_not_id_cards(number):
    assert found(f"身份证 {number}") == []


def test_an_id_card_is_not_also_a_bank_card_or_a_phone():
    # A Gansu (62…) ID that also passes Luhn, next to a card word: it looks like a UnionPay card too.
    number = id_where(lambda n: luhn_valid(n) and n[-1].isdigit(), region="620102", birth="19851120")
    text = f"银行卡绑定要身份证 {number}"
    assert found(text) == [("id_card", number)]
    assert found(text, kinds={"bank_card"}) == []
    assert found(text, kinds={"mobile", "phone"}) == []


def test_an_old_id_shaped_order_number_is_kept():
    assert found("订单号 110105900307123") == []


# --- bank cards ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, card",
    [
        (f"退款退到我的银行卡{UNIONPAY_19}了吗", UNIONPAY_19),
        (f"卡号 {grouped(UNIONPAY_16)} 扣了两次钱", grouped(UNIONPAY_16)),
        (f"信用卡{grouped(UNIONPAY_16, '-')}被重复扣款", grouped(UNIONPAY_16, "-")),
        (f"会员卡号 {NO_ISSUER_16} 积分没到账", NO_ISSUER_16),  # unknown issuer, card word nearby
        (f"I was charged twice on {grouped(VISA_16)} yesterday", grouped(VISA_16)),  # Visa prefix alone
        (f"my card {NO_ISSUER_16} was declined", NO_ISSUER_16),
        (
            f"Amex {AMEX_15[:4]} {AMEX_15[4:10]} {AMEX_15[10:]} refund please",
            f"{AMEX_15[:4]} {AMEX_15[4:10]} {AMEX_15[10:]}",
        ),
    ],
)
def test_bank_cards(text, card):
    assert found(text) == [("bank_card", card)]


@pytest.mark.parametrize(
    "keyword",
    [
        "订单号",
        "订单编号",
        "单号",
        "快递单号",
        "运单号",
        "order",
        "order no.",
        "Order number:",
        "tracking",
        "#",
    ],
)
def test_card_shaped_numbers_after_order_keywords_are_kept(keyword):
    assert found(f"{keyword}{VISA_16}") == []
    assert found(f"{keyword} {UNIONPAY_19} 卡住了") == []


def test_luhn_passing_numbers_without_card_word_or_issuer_are_kept():
    assert found(f"发票代码 {NO_ISSUER_16} 开错了") == []


def test_long_random_digit_strings_are_not_cards():
    rng = random.Random(11)
    failing = []
    while len(failing) < 20:
        digits = "".join(rng.choice("0123456789") for _ in range(16))
        if not luhn_valid(digits):
            failing.append(digits)
    for digits in failing:
        assert found(f"卡号{digits}") == []
    assert found("卡号 " + "1234567890" * 3) == []  # 30 digits: too long for anything


# --- email ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "zhang.san@example.com",
        "li_si+feedback@mail.example.com.cn",
        "13800138000@163.com",
        "wang@qq.com",
        "lisi＠qq.com",
    ],
)
def test_email_addresses(address):
    assert found(f"发票发到邮箱{address}就行") == [("email", address)]
    assert found(f"Send the invoice to {address}, thanks!") == [("email", address)]


@pytest.mark.parametrize("text", ["@客服 怎么还没回复", "thanks @support_team", "a@b", "5@10元一份"])
def test_things_with_at_signs_that_are_not_emails(text):
    assert found(text) == []


# --- WeChat and QQ -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, wechat_id",
    [
        ("有问题加我微信号 zhangsan_88", "zhangsan_88"),
        ("微信：lisi-2023", "lisi-2023"),
        ("加vx abc123456 详聊", "abc123456"),
        ("wx:WangWu_01", "WangWu_01"),
        ("微信号zhangsan", "zhangsan"),
        ("My WeChat ID: john_doe88", "john_doe88"),
        ("wechat: johndoe", "johndoe"),
    ],
)
def test_wechat_ids_after_a_marker(text, wechat_id):
    assert found(text) == [("wechat", wechat_id)]


@pytest.mark.parametrize(
    "text, qq",
    [
        ("QQ号 12345678", "12345678"),
        ("扣扣：987654321", "987654321"),
        ("qq 10001 联系", "10001"),
        ("My QQ is 2233445566", "2233445566"),
    ],
)
def test_qq_numbers_after_a_marker(text, qq):
    assert found(text) == [("qq", qq)]


@pytest.mark.parametrize(
    "text",
    [
        "zhangsan_88 是我的账号",  # no marker
        "微信支付很方便",
        "WeChat is terrible lately",
        "wechat support never answered",
        "QQ音乐会员 12345678",  # 音乐 breaks the marker
        "我的号码 12345678",
    ],
)
def test_ids_without_an_explicit_marker_are_not_found(text):
    assert found(text) == []


# --- addresses -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, address",
    [
        (
            "地址：北京市朝阳区建国路88号SOHO现代城5号楼1201室，快递放门卫",
            "北京市朝阳区建国路88号SOHO现代城5号楼1201室",
        ),
        ("寄到上海浦东新区张江路100弄3号就行", "上海浦东新区张江路100弄3号"),
        ("广东省深圳市南山区科技园路1号2栋3单元501室", "广东省深圳市南山区科技园路1号2栋3单元501室"),
        ("收货地址杭州市西湖区文三路478号", "杭州市西湖区文三路478号"),
        ("Ship it to 221B Baker Street, Apt 4 please", "221B Baker Street, Apt 4"),
        ("I live at 350 5th Ave and the parcel never came", "350 5th Ave"),
        ("Delivered to 42 Wallaby Way instead of 10 Downing St.", "42 Wallaby Way"),
    ],
)
def test_addresses(text, address):
    assert ("address", address) in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "我在北京出差",
        "送到小区门口",
        "建国路88号的店很好吃",  # a street with no city or district: too uncertain
        "北京的路很堵，外卖晚了一小时",
        "the 5 hour drive was fine",
        "I gave it 5 stars street food",
    ],
)
def test_things_that_are_not_addresses(text):
    assert found(text) == []


# --- look-alikes that must stay ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "价格1380元，太贵了",
        "2023-11-23 下单，2023年11月23日到货",
        "Ordered on 2023-11-23, arrived 11/25/2023",
        "iPhone 15 Pro Max 256GB 型号A3108",
        "型号SM-G9980 和 RTX4090，XPS13-9370 也不错",
        "时间戳 1700000000000",
        "评分 4.5 分，共 12345 条评价",
        "这家店的外卖很好吃，送餐很快😀",
    ],
)
def test_prices_dates_models_and_plain_feedback_have_no_pii(text):
    assert found(text) == []


# --- overlaps ------------------------------------------------------------------------------------------


def test_an_email_made_of_a_phone_number_is_one_email():
    assert found("邮箱13800138000@163.com") == [("email", "13800138000@163.com")]


def test_a_qq_marker_before_an_email_yields_the_email():
    assert found("QQ 12345678@qq.com") == [("email", "12345678@qq.com")]


def test_a_wechat_id_that_is_a_mobile_number_is_reported_once_as_mobile():
    assert found("微信 13800138000 同号") == [("mobile", "13800138000")]


def test_spans_are_sorted_and_do_not_overlap():
    text = f"手机13800138000，邮箱a@b.com，身份证{made_up_id()}，地址北京市朝阳区建国路88号，QQ 12345678"
    spans = find_pii(text)
    assert [span.kind for span in spans] == ["mobile", "email", "id_card", "address", "qq"]
    for before, after in itertools.pairwise(spans):
        assert before.end <= after.start


# --- redaction and placeholders ------------------------------------------------------------------------


def test_every_kind_has_a_placeholder_in_both_languages():
    assert set(PLACEHOLDERS) == set(KINDS)
    for token in PLACEHOLDERS.values():
        assert token.zh.startswith("[") and token.zh.endswith("]")
        assert token.en.startswith("[") and token.en.endswith("]")


def test_english_placeholders_carry_no_sentiment():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    for token in PLACEHOLDERS.values():
        assert analyzer.polarity_scores(token.en)["compound"] == 0.0


def test_chinese_text_gets_chinese_placeholders():
    result = redact(
        f"电话13800138000，身份证{made_up_id()}，卡号{UNIONPAY_19}，邮箱a@b.com，微信号 zhang_san1，QQ 12345"
    )
    assert (
        result.text
        == "电话[手机号]，身份证[身份证号]，卡号[银行卡号]，邮箱[邮箱]，微信号 [微信号]，QQ [QQ号]"
    )
    assert [span.kind for span in result.spans] == ["mobile", "id_card", "bank_card", "email", "wechat", "qq"]


def test_english_text_gets_english_placeholders():
    result = redact("Call 010-12345678 or 13800138000, mail bob@example.org, ship to 12 Main Street.")
    assert result.text == "Call [phone] or [phone], mail [email], ship to [address]."


def test_one_chinese_character_makes_the_whole_text_chinese_context():
    assert redact("call 13800138000 谢谢").text == "call [手机号] 谢谢"


def test_redaction_keeps_the_rest_of_the_text_unchanged():
    text = "  差评！！😡 客服电话 010-12345678 不通；\n我的手机 138 0013 8000 …… 邮箱 x.y@example.com\t结尾 "
    result = redact(text)
    position = 0
    rebuilt = []
    for span in result.spans:
        rebuilt.append(text[position : span.start])
        rebuilt.append(PLACEHOLDERS[span.kind].zh)
        position = span.end
    rebuilt.append(text[position:])
    assert result.text == "".join(rebuilt)
    assert result.text == "  差评！！😡 客服电话 [电话] 不通；\n我的手机 [手机号] …… 邮箱 [邮箱]\t结尾 "


def test_text_without_pii_is_returned_as_is():
    text = "菜品不错，就是送得有点慢 🙂"
    assert redact(text) == Redaction(text, ())
    assert not has_pii(text)


def test_empty_text():
    assert find_pii("") == []
    assert redact("") == Redaction("", ())
    assert not has_pii("")


def test_emoji_before_pii_do_not_shift_offsets():
    text = "👍👍🏻🇨🇳 打 13800138000 👨‍👩‍👧"
    (span,) = find_pii(text)
    assert span == PiiSpan("mobile", text.index("138"), text.index("138") + 11, "13800138000")


def test_kinds_filter_and_has_pii():
    text = "手机13800138000，邮箱a@b.com"
    assert found(text, kinds=["email"]) == [("email", "a@b.com")]
    assert has_pii(text, kinds={"mobile"})
    assert not has_pii(text, kinds={"id_card"})
    with pytest.raises(ValueError, match="unknown PII kind"):
        find_pii(text, kinds={"name"})


def test_a_10000_character_text():
    sentence = "外卖送到了但是汤洒了，联系13800138000也没人管，差评。"
    filler = "味道一般般，包装还可以，下次不会再点了。" * 25
    text = (sentence + filler) * 20
    assert len(text) > 10_000
    result = redact(text)
    assert len(result.spans) == 20
    assert {span.kind for span in result.spans} == {"mobile"}
    assert result.text == text.replace("13800138000", "[手机号]")


@pytest.mark.parametrize(
    "text",
    [
        "1" * 20_000,
        "1 " * 10_000,
        "1234 " * 4_000,
        "@" * 20_000,
        "a@" * 10_000,
        "a" * 20_000 + "@",
        "x@" + "a." * 10_000,
        "北京市朝阳区建国路88号" + "楼1号" * 6_000,
        "微信 " * 5_000,
        "".join(random.Random(5).choice("0123456789 @.-a卡") for _ in range(20_000)),
    ],
    ids=[
        "digits",
        "digit-space",
        "groups",
        "ats",
        "a-at",
        "local-part",
        "labels",
        "address",
        "markers",
        "mixed",
    ],
)
def test_adversarial_20000_character_inputs_finish(text):
    # Would hang on catastrophic backtracking; no timing assertion needed.
    for span in find_pii(text):
        assert text[span.start : span.end] == span.text


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="0123456789 -+@.:Xx卡号微信QQ路市区abc（）＠１８😀", max_size=80))
def test_spans_are_always_ordered_exact_slices(text):
    spans = find_pii(text)
    for span in spans:
        assert span.kind in KINDS
        assert 0 <= span.start < span.end <= len(text)
        assert text[span.start : span.end] == span.text
    for before, after in itertools.pairwise(spans):
        assert before.end <= after.start


@pytest.mark.parametrize(
    "text, number",
    [
        ("座机02112345678打不通", "02112345678"),
        ("Tel: 075512345678", "075512345678"),
        ("客服电话 01012345678", "01012345678"),
    ],
)
def test_landlines_without_separator_after_a_phone_word(text, number):
    assert found(text) == [("phone", number)]


def test_landline_shaped_digits_without_separator_or_phone_word_are_kept():
    assert found("编号02112345678") == []


@pytest.mark.parametrize(
    "text, address",
    [
        ("我家住在北京市海淀区中关村大街27号1101", "北京市海淀区中关村大街27号1101"),
        ("送到杭州西湖区文三路478号华星时代广场A座1201，谢谢", "杭州西湖区文三路478号华星时代广场A座1201"),
        ("上海市徐汇区漕溪北路88号3-1201", "上海市徐汇区漕溪北路88号3-1201"),
    ],
)
def test_address_details_after_the_house_number(text, address):
    assert found(text) == [("address", address)]


def test_a_mobile_right_after_an_address_stays_a_separate_span():
    assert found("北京市朝阳区建国路88号13800138000") == [
        ("address", "北京市朝阳区建国路88号"),
        ("mobile", "13800138000"),
    ]

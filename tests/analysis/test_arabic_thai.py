"""Arabic and Thai feedback: complaint cues, taxonomy keywords (``keywords_intl``) and Arabic topic terms.

Every sentence here is written for this file. Arabic keywords match whole folded words (hamza on a carrier and
short vowels do not matter; a leading ال or و is part of the word, so the taxonomy lists those forms); Thai
keywords match as substrings of text that holds Thai.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from closeloop.analysis.categories import CategoryDetector
from closeloop.analysis.complaint import complaint_cues, is_complaint
from closeloop.analysis.engine import Engine
from closeloop.analysis.taxonomy import Taxonomy, load_taxonomy
from closeloop.analysis.topics import STOP_WORDS_AR, STOP_WORDS_BY_LANGUAGE, feedback_terms

ARABIC = re.compile("[\u0600-\u06ff]")
THAI = re.compile("[\u0e00-\u0e7f]")
TAXONOMY_FILE = "src/closeloop/analysis/taxonomy.yaml"


def without_arabic_and_thai(taxonomy: Taxonomy) -> Taxonomy:
    """The taxonomy with its Arabic and Thai keywords taken out (every other keyword kept)."""
    return Taxonomy(
        [
            dataclasses.replace(
                category,
                keywords_intl=tuple(
                    keyword
                    for keyword in category.keywords_intl
                    if not ARABIC.search(keyword) and not THAI.search(keyword)
                ),
            )
            for category in taxonomy
        ]
    )


@pytest.fixture(scope="module")
def detector() -> CategoryDetector:
    return CategoryDetector.default()


# --- complaint cues ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("أريد استرداد أموالي فورا", "استرداد"),
        ("طلبت الاسترجاع من أسبوع", "الاسترجاع"),
        ("أطالب بالتعويض عن الضرر", "بالتعويض"),
        ("المنتج لا يعمل وإرجاعه مرفوض", "وإرجاعه"),
        ("ارجاع المنتج مرفوض", "ارجاع"),  # written without hamza
        ("اِسْتِرْدَادُ المَبْلَغ", "استرداد"),  # with short vowels
        ("سأشتكي لحماية المستهلك", "لحماية المستهلك"),
        ("قدمت شكوى لوزارة التجارة", "شكوى"),
        ("وين فلوسي؟", "فلوسي"),
        ("بدي حقي منكم", "بدي حقي"),
        ("الغيت الطلب بعد أسبوعين انتظار", "الغيت"),
        ("لن أشتري منهم مرة أخرى", "لن أشتري منهم مرة أخرى"),
        ("ما راح اطلب منكم مره ثانيه", "ما راح اطلب منكم مره ثانيه"),
        ("لا أنصح بهذا المتجر", "لا أنصح"),
        ("شركة نصابين", "نصابين"),
        ("هذه آخر مرة أتعامل معكم", "آخر مرة"),
        ("سأنتقل إلى شركة أخرى", "شركة أخرى"),
        ("สินค้าไม่ตรงปก ขอคืนเงินด้วย", "คืนเงิน"),
        ("จะร้องเรียน สคบ", "ร้องเรียน"),
        ("ขอเปลี่ยนสินค้าใหม่", "ขอเปลี่ยน"),
        ("ร้านนี้ไม่รับผิดชอบเลย", "ไม่รับผิดชอบ"),
        ("จะไม่ซื้ออีกแล้ว", "จะไม่ซื้อ"),
        ("ไม่แนะนำร้านนี้", "ไม่แนะนำ"),
        ("ร้านหลอกลวง", "หลอกลวง"),
        ("เข็ดแล้ว ครั้งสุดท้าย", "เข็ด"),
    ],
)
def test_arabic_and_thai_redress_and_churn_cues_are_found(text: str, cue: str) -> None:
    assert cue in complaint_cues(text)


@pytest.mark.parametrize(
    "text",
    [
        "سأطلب مرة أخرى بالتأكيد",  # "again" without a negation is loyalty, not churn
        "الغير والغيوم",  # words that merely start like ألغى (cancel)
        "حقيبة جميلة جدا",  # حقي inside حقيبة (bag)
        "وجود مشكلة بسيطة في اللون",
        "สินค้าดีมาก ขอบคุณค่ะ",
        "ส่งเร็ว แพ็คดี",
    ],
)
def test_ordinary_arabic_and_thai_feedback_has_no_complaint_cue(text: str) -> None:
    assert complaint_cues(text) == []


def test_short_vowel_marks_do_not_change_english_or_chinese_cues() -> None:
    assert complaint_cues("I want a refund, 我要退款") == ["refund", "退款"]


def test_a_cue_needs_negative_sentiment_to_make_a_complaint() -> None:
    text = "استرجعت المبلغ بسرعة"
    assert complaint_cues(text)
    assert is_complaint(text, "negative", -0.7)
    assert not is_complaint(text, "positive", 0.9)
    assert not is_complaint("ได้รับเงินคืนเร็วมาก", "neutral", 0.0)


@pytest.mark.parametrize(
    "text",
    [
        "المنتج وصل مكسور والبائع يرفض الاسترجاع، أريد استرداد أموالي",
        "تجربة سيئة جدا، لن أشتري منهم مرة أخرى",
        "ส่งช้ามาก ของเสียหาย จะไม่ซื้ออีกแล้ว",
        "ร้านนี้หลอกลวง ไม่แนะนำ",
    ],
)
def test_the_engine_flags_arabic_and_thai_complaints(text: str, fast_engine: Engine) -> None:
    [result] = fast_engine.analyze([text])
    assert result.language in ("ar", "th")
    assert result.sentiment == "negative"
    assert result.complaint


@pytest.mark.parametrize(
    "text",
    [
        "استرجعت المبلغ بسرعة وخدمة العملاء رائعة، شكرا لكم",
        "ได้รับเงินคืนเร็วมาก บริการดีมาก ประทับใจค่ะ",
    ],
)
def test_the_engine_does_not_flag_a_happy_refund_story(text: str, fast_engine: Engine) -> None:
    [result] = fast_engine.analyze([text])
    assert complaint_cues(text)  # the refund is mentioned ...
    assert result.sentiment == "positive"
    assert not result.complaint  # ... but nobody is complaining


# --- categories ----------------------------------------------------------------------------------------
CATEGORY_EXAMPLES = [
    # ar
    ("التوصيل كان متأخر جدا والمندوب ما رد على الهاتف", {"logistics"}),
    ("السعر غالي جدا مقارنة بالجودة", {"price", "product_quality"}),
    ("خدمة العملاء ممتازة والموظف كان متعاون", {"service"}),
    ("وصل المنتج مكسور وجودته رديئة", {"product_quality"}),
    ("التغليف سيء والعلبة وصلت مفتوحة", {"packaging"}),
    ("الأسعار مناسبة والتوصيل سريع", {"price", "logistics"}),
    ("اسعار مناسبة والشحن سريع", {"price", "logistics"}),  # أسعار written without hamza
    ("طلبت استرجاع المنتج والضمان لا يغطي العطل", {"after_sales", "product_quality"}),
    ("الرائحة جميلة والمقاس مضبوط", {"smell", "size_fit"}),
    ("التطبيق يعلق ولا أستطيع تسجيل الدخول", {"app_website"}),
    ("المنتج تقليد وليس أصلي", {"authenticity"}),
    ("الطعم لذيذ والمنتج طازج", {"taste_freshness"}),
    ("المكان نظيف والأجواء رائعة", {"environment"}),
    # th
    ("ส่งช้ามาก รอพัสดุเป็นอาทิตย์", {"logistics"}),
    ("ราคาแพงเกินไป ไม่คุ้มค่า", {"price"}),
    ("พนักงานบริการดีมาก สุภาพ", {"service"}),
    ("คุณภาพแย่ ใช้ได้สองวันพัง", {"product_quality"}),
    ("กล่องบุบ ห่อมาไม่ดี", {"packaging"}),
    ("ของแท้แน่นอน ราคาถูกกว่าห้าง", {"authenticity", "price"}),
    ("ขอคืนเงิน สินค้าไม่ตรงปก", {"after_sales", "appearance"}),
    ("แอพค้างบ่อย เข้าสู่ระบบไม่ได้", {"app_website"}),
    ("รสชาติอร่อย สดใหม่", {"taste_freshness"}),
    ("ไซส์เล็กไป กลิ่นก็เหม็น", {"size_fit", "smell"}),
]


@pytest.mark.parametrize(
    ("text", "expected"), CATEGORY_EXAMPLES, ids=[text[:20] for text, _ in CATEGORY_EXAMPLES]
)
def test_the_engine_finds_categories_of_arabic_and_thai_feedback(
    text: str, expected: set[str], fast_engine: Engine
) -> None:
    [result] = fast_engine.analyze([text])
    assert expected <= set(result.categories)


@pytest.mark.parametrize(
    ("text", "unwanted"),
    [
        ("شحن الجوال بطيء والبطارية ضعيفة", "logistics"),  # charging a phone is no shipment
        ("الكرتون مكسور من الخارج", "product_quality"),  # a broken box is packaging
        ("وجود مشكلة بسيطة", "product_quality"),  # وجود (existence) is not جودة with و
        ("سعرات حرارية قليلة", "price"),  # calories
        ("กล่องพังมาเลย", "product_quality"),
        ("สีน้ำตาลสวย", "ingredients"),  # brown is not sugar
        ("สินค้าไม่ตอบโจทย์", "service"),  # "does not meet my needs", not an unanswered chat
        ("แอปเปิ้ลสดมาก", "app_website"),  # apple, not app
    ],
)
def test_ambiguous_arabic_and_thai_words_stay_out_of_the_wrong_category(
    text: str, unwanted: str, detector: CategoryDetector
) -> None:
    [row] = detector.predict([text])
    assert unwanted not in {category for category, _score in row}


def test_without_the_new_keywords_arabic_and_thai_feedback_gets_nothing(detector: CategoryDetector) -> None:
    stripped = CategoryDetector.default(without_arabic_and_thai(load_taxonomy()))
    texts = [text for text, _ in CATEGORY_EXAMPLES]
    assert all(not row for row in stripped.predict(texts))
    assert all(row for row in detector.predict(texts))


# Sentences from the taxonomy's examples and the multilingual category tests.
CHINESE_AND_ENGLISH = [
    "物流很快，第二天就到了，快递小哥态度也好。",
    "外盒都压扁了，瓶盖还漏液。",
    "客服很有耐心，回复也很及时。",
    "太贵了，不值这个价。",
    "用了两天就坏了，质量太差。",
    "Fast shipping, arrived two days early.",
    "The bottle leaked all over the package.",
    "Customer support never replied to my emails.",
    "Way overpriced for what you get.",
    "It broke after a week, poor quality.",
]


def test_chinese_and_english_categories_are_unchanged_by_the_new_keywords() -> None:
    taxonomy = load_taxonomy()
    with_new = CategoryDetector.default(taxonomy).predict(CHINESE_AND_ENGLISH)
    without = CategoryDetector.default(without_arabic_and_thai(taxonomy)).predict(CHINESE_AND_ENGLISH)
    assert all(without)  # the comparison is not vacuous
    assert with_new == without


def test_every_category_has_arabic_and_thai_keywords() -> None:
    text = (Path(__file__).resolve().parents[2] / TAXONOMY_FILE).read_text(encoding="utf-8")
    taxonomy = load_taxonomy()
    assert text.count("      # ar العربية") == len(taxonomy)
    assert text.count("      # th ไทย") == len(taxonomy)
    for category in taxonomy:
        arabic = [keyword for keyword in category.keywords_intl if ARABIC.search(keyword)]
        thai = [keyword for keyword in category.keywords_intl if THAI.search(keyword)]
        assert len(arabic) >= 10, category.id
        assert len(thai) >= 5, category.id
        # A Thai keyword of one or two letters would hide inside unrelated words.
        assert all(len(keyword.split("&")[0].strip()) >= 3 for keyword in thai), category.id


# --- topics --------------------------------------------------------------------------------------------
def test_arabic_topic_terms_drop_stop_words_and_the_article() -> None:
    terms = feedback_terms("التوصيل كان متأخر جدا والمنتج وصل مكسور، وخدمة العملاء سيئة")
    assert {"توصيل", "متأخر", "منتج", "مكسور", "عملاء", "توصيل متأخر"} <= set(terms)
    assert not {"كان", "جدا", "التوصيل", "والمنتج", "العملاء"} & set(terms)


def test_the_arabic_article_stays_on_short_words_and_stop_words_go_with_it() -> None:
    terms = feedback_terms("الله يعطيكم العافية، عندي الم في الظهر")
    assert "الله" not in terms  # a stop word, not "له"
    assert "له" not in terms
    assert {"عافية", "ظهر"} <= set(terms)
    assert "الم" in terms  # الم (pain, written without hamza): one letter after ال, so no article


def test_arabic_has_a_stop_word_list_used_for_arabic_text() -> None:
    assert STOP_WORDS_BY_LANGUAGE["ar"] is STOP_WORDS_AR
    assert {"في", "من", "على", "جدا", "كان"} <= STOP_WORDS_AR
    assert all(ARABIC.search(word) for word in STOP_WORDS_AR)

"""Categories for feedback in languages other than Chinese and English: the taxonomy's ``keywords_intl``.

Parsing and saving the field, how its keywords match (whole words, prefixes, phrases, substrings for
Japanese and Korean, conditions), example sentences in eleven languages, and that Chinese and English
feedback gets exactly the categories it got before the field existed.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest

from closeloop.analysis._matching import KeywordMatcher, fold_word_text, word_tokens
from closeloop.analysis.categories import CategoryDetector
from closeloop.analysis.taxonomy import (
    TAXONOMY_PATH_ENV,
    Category,
    Taxonomy,
    load_taxonomy,
    save_taxonomy,
    taxonomy_from_document,
    taxonomy_to_document,
)

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
LANGUAGES = ("de", "fr", "es", "pt", "it", "nl", "pl", "tr", "ru", "ja", "ko")


def category_entry(**extra: object) -> dict[str, object]:
    """A minimal valid category mapping as it comes from YAML."""
    return {"id": "delivery", "name_zh": "物流", "name_en": "Delivery", "keywords_en": ["courier"], **extra}


def matcher_for(*keywords: str, category_id: str = "delivery") -> KeywordMatcher:
    """A matcher over one category detected only by the given other-language keywords."""
    category = Category(
        id=category_id,
        name_zh=category_id,
        name_en=category_id,
        keywords_zh=(),
        keywords_en=(),
        examples=(),
        keywords_intl=keywords,
    )
    return KeywordMatcher(Taxonomy([category]))


def found(matcher: KeywordMatcher, text: str) -> bool:
    return bool(matcher.category_hits(text))


def detected(texts: list[str], detector: CategoryDetector) -> list[set[str]]:
    return [{category_id for category_id, _score in row} for row in detector.predict(texts)]


@pytest.fixture(scope="module")
def default_detector() -> CategoryDetector:
    return CategoryDetector.default()


# --- the taxonomy field --------------------------------------------------------------------------------
def test_keywords_intl_is_optional_and_defaults_to_empty() -> None:
    taxonomy = taxonomy_from_document({"categories": [category_entry()]})
    assert taxonomy.get("delivery").keywords_intl == ()
    category = Category(
        id="x", name_zh="x", name_en="x", keywords_zh=(), keywords_en=("x",), examples=()
    )  # constructors written before the field keep working
    assert category.keywords_intl == ()


def test_keywords_intl_are_parsed_and_stripped_like_english_keywords() -> None:
    entry = category_entry(keywords_intl=[" lieferung* ", "доставк*", "配送", "", "kaputt & !verpackung", 42])
    category = taxonomy_from_document([entry]).get("delivery")
    assert category.keywords_intl == ("lieferung*", "доставк*", "配送", "kaputt & !verpackung", "42")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("lieferung", r"my\.yaml: category #1 \(delivery\): 'keywords_intl' must be a list of strings"),
        ({"de": ["lieferung"]}, r"'keywords_intl' must be a list of strings"),
        ([["nested"]], r"\(delivery\): 'keywords_intl' must be a list of strings, got \['nested'\]"),
        ([True], r"'keywords_intl' must be a list of strings, got True"),
        ([None], r"'keywords_intl' must be a list of strings, got None"),
    ],
)
def test_bad_keywords_intl_are_refused_naming_file_category_and_field(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        taxonomy_from_document([category_entry(keywords_intl=value)], source="my.yaml")


def test_save_round_trips_keywords_intl_and_omits_the_key_when_empty(tmp_path: Path) -> None:
    keywords = ["zustell*", "배송", "frais & !port"]
    with_intl = taxonomy_from_document([category_entry(keywords_intl=keywords)])
    without = taxonomy_from_document([category_entry()])
    assert taxonomy_to_document(with_intl)["categories"][0]["keywords_intl"] == keywords
    assert "keywords_intl" not in taxonomy_to_document(without)["categories"][0]
    path = tmp_path / "taxonomy.yaml"
    save_taxonomy(with_intl, path)
    assert load_taxonomy(path) == with_intl
    assert "배송" in path.read_text(encoding="utf-8")  # written readable, not escaped


def test_the_default_taxonomy_survives_a_save_and_load(tmp_path: Path) -> None:
    taxonomy = load_taxonomy()
    save_taxonomy(taxonomy, tmp_path / "taxonomy.yaml")
    assert load_taxonomy(tmp_path / "taxonomy.yaml") == taxonomy


def test_default_taxonomy_has_other_language_keywords_for_every_category() -> None:
    text = (Path(__file__).resolve().parents[2] / "src/closeloop/analysis/taxonomy.yaml").read_text("utf-8")
    for language in LANGUAGES:
        assert text.count(f"      # {language} ") == len(load_taxonomy())  # one comment line per language
    for category in load_taxonomy():
        assert len(category.keywords_intl) >= 5 * len(LANGUAGES), category.id


def test_adding_a_category_from_the_ui_keeps_other_language_keywords(tmp_path, monkeypatch) -> None:
    from closeloop.insight.emerging import add_category

    monkeypatch.delenv(TAXONOMY_PATH_ENV, raising=False)
    add_category(tmp_path, name_zh="会员积分", name_en="Loyalty points", keywords=["积分", "points"])
    saved = load_taxonomy(tmp_path / "taxonomy.yaml")
    assert "loyalty_points" in saved
    assert saved.get("logistics").keywords_intl == load_taxonomy().get("logistics").keywords_intl
    assert all(saved.get(c.id).keywords_intl == c.keywords_intl for c in load_taxonomy())
    assert "zu spät" in saved.get("logistics").keywords_intl


# --- matching ------------------------------------------------------------------------------------------
def test_words_are_folded_for_case_accents_and_turkish_dotless_i() -> None:
    assert fold_word_text("QUALITÄT") == "qualitat"
    assert fold_word_text("KIRIK kırık") == "kirik kirik"
    assert fold_word_text("İADE") == "iade"
    assert fold_word_text("Łódź Straße") == "lodz strasse"
    assert fold_word_text("ЁЖИК Доставка") == "ежик доставка"
    assert fold_word_text("ΠΑΡΆΔΟΣΗ παράδοσης") == "παραδοση παραδοσησ"  # Greek: accents and final sigma
    assert word_tokens("l'emballage, très-abîmé!") == ["l", "emballage", "tres", "abime"]


@pytest.mark.parametrize(
    ("keyword", "text", "expected"),
    [
        ("lieferung", "Die Lieferung war pünktlich", True),
        ("lieferung", "DIE LIEFERUNG WAR PÜNKTLICH", True),
        ("lieferung", "Die Lieferungen waren pünktlich", False),  # whole words only
        ("lieferung", "Lieferungsdauer zu lang", False),
        ("lieferung*", "Die Lieferungen waren pünktlich", True),
        ("lieferung*", "Lieferungsdauer zu lang", True),
        ("lieferung*", "Sie wurde beliefert", False),  # a prefix, not a substring
        ("emballage", "Je n'aime pas l'emballage.", True),  # French elision splits the word
        ("reçu", "Colis jamais recu", True),  # accents are optional
        ("très cher", "Le produit est tres cher", True),
        ("posylka", "посылка пришла", False),
        ("посылка", "Посылка пришла вовремя", True),
        ("посылка", "Пришло посылкой", False),
        ("доставк*", "Спасибо за быструю ДОСТАВКУ!", True),
        ("dostaw*", "Dostawa trwała tydzień", True),
        ("opóźni*", "Przesylka sie opoznila", True),  # written without Polish letters
        ("zu spät", "Das Paket kam viel zu spät an", True),  # a phrase of consecutive words
        ("zu spät", "zu langsam und spät", False),
        ("trop grand*", "La veste est trop grande", True),  # a phrase ending in a prefix
        ("trop grand*", "Trop de choses, grande boîte", False),
        ("kırık", "Ürün KIRIK geldi", True),
        ("kırık", "ürün kirik geldi", True),
        ("kırık", "kırıklık yok", False),
    ],
)
def test_words_match_whole_or_by_prefix_or_as_a_phrase(keyword: str, text: str, expected: bool) -> None:
    assert found(matcher_for(keyword), text) is expected


@pytest.mark.parametrize(
    ("keyword", "text", "expected"),
    [
        ("配送", "配送がとても遅かったです。", True),
        ("届い", "昨日届いた商品", True),
        ("배송", "배송이 정말 빨라요", True),  # Korean particles attach to the word
        ("배송", "배송비가 비싸요", True),
        ("환불", "빠른 환불 부탁드려요", True),
        ("배송", "포장이 꼼꼼해요", False),
        ("配送", "配送太慢了，等了一周", False),  # Chinese text: no kana, so Japanese kanji stay silent
        ("配送", "配送遅延。返事もない", True),  # a kanji-only clause counts when the text has kana
    ],
)
def test_japanese_and_korean_keywords_match_as_substrings(keyword: str, text: str, expected: bool) -> None:
    assert found(matcher_for(keyword), text) is expected


@pytest.mark.parametrize(
    ("keyword", "text", "expected"),
    [
        ("kaputt & !verpackung", "Der Deckel ist kaputt", True),
        ("kaputt & !verpackung", "Die Verpackung war kaputt", False),
        ("kaputt & !verpackung", "Die VERPACKUNG war KAPUTT", False),
        ("kaputt & paket", "Das Paket war kaputt", True),
        ("kaputt & paket", "Der Deckel war kaputt", False),
        ("frais & !port", "Des produits frais", True),
        ("frais & !port", "Les frais de port sont élevés", False),
        ("frais & !livraison", "frais de livraison offerts", False),
        ("zwrot & pieniędzy", "Czekam na zwrot pieniedzy", True),  # conditions ignore accents too
        ("환불 & !완료", "환불 완료되었습니다", False),
        ("환불 & !완료", "환불 언제 되나요", True),
    ],
)
def test_conditions_work_on_other_language_keywords(keyword: str, text: str, expected: bool) -> None:
    assert found(matcher_for(keyword), text) is expected


def test_spelling_variants_of_one_keyword_count_once() -> None:
    matcher = matcher_for("envío*", "envio*", "zu spät")
    assert matcher.category_hits("El envío llegó zu spät") == {"delivery": 2}


def test_clauses_split_at_japanese_and_latin_punctuation() -> None:
    matcher = matcher_for("配送", "배송", "lieferung")
    clauses = [clause for clause, _hits in matcher.text_hits("配送が遅い。箱も潰れていた！ Lieferung? ok")]
    assert clauses == ["配送が遅い", "箱も潰れていた", "lieferung", "ok"]
    korean = [clause for clause, _hits in matcher.text_hits("배송 빨라요. 포장은, 별로")]
    assert korean == ["배송 빨라요", "포장은", "별로"]


# --- the default taxonomy on example feedback ----------------------------------------------------------
EXAMPLES = [
    # de
    ("Das Paket kam viel zu spät und die Verpackung war kaputt.", {"logistics", "packaging"}),
    ("Der Kundenservice war sehr unfreundlich und hat nie geantwortet.", {"service"}),
    ("Viel zu teuer für diese schlechte Qualität.", {"price", "product_quality"}),
    ("Ich habe das Gerät zurückgeschickt und warte seit Wochen auf die Rückerstattung.", {"after_sales"}),
    # fr
    ("La livraison a pris deux semaines, le colis est arrivé en retard.", {"logistics"}),
    ("Produit trop cher, je demande un remboursement.", {"price", "after_sales"}),
    ("Le service client est très aimable et à l'écoute.", {"service"}),
    # es
    ("El envío tardó tres semanas y la caja llegó aplastada.", {"logistics", "packaging"}),
    ("La talla es demasiado pequeña, quiero la devolución del dinero.", {"size_fit", "after_sales"}),
    ("Es una falsificación, no es original.", {"authenticity"}),
    # pt
    ("A entrega atrasou uma semana e o atendimento foi péssimo.", {"logistics", "service"}),
    ("Produto de ótima qualidade e com preço justo.", {"product_quality", "price"}),
    ("A embalagem veio amassada e o frasco vazou.", {"packaging"}),
    # it
    ("La spedizione è arrivata in ritardo e il pacco era bagnato.", {"logistics"}),
    ("Il prodotto si è rotto dopo due giorni, ho chiesto il rimborso.", {"product_quality", "after_sales"}),
    ("Prezzo troppo alto per quello che offre.", {"price"}),
    # nl
    ("De bezorging duurde veel te lang en de doos was helemaal ingedeukt.", {"logistics", "packaging"}),
    ("De klantenservice reageerde snel en was erg vriendelijk.", {"service"}),
    ("Veel te duur voor zo'n slechte kwaliteit.", {"price", "product_quality"}),
    # pl
    ("Przesyłka dotarła po dwóch tygodniach, kurier się spóźnił.", {"logistics"}),
    ("Produkt jest wadliwy, złożyłem reklamację, czekam na zwrot.", {"product_quality", "after_sales"}),
    ("Bardzo dobra jakość w tej cenie, polecam.", {"product_quality", "price"}),
    # tr
    ("Kargo çok geç geldi ve kutu ezilmişti.", {"logistics", "packaging"}),
    ("Ürün sahte çıktı, orijinal değil.", {"authenticity"}),
    ("Fiyatı çok pahalı ama kalitesi iyi.", {"price", "product_quality"}),
    # ru
    ("Доставка задержалась на неделю, посылка пришла помятой.", {"logistics", "packaging"}),
    ("Продавец вежливый, ответил на все вопросы.", {"service"}),
    ("Товар сломался через два дня, требую возврат денег.", {"product_quality", "after_sales"}),
    # ja
    ("配送が遅くて、箱も潰れていました。", {"logistics", "packaging"}),
    ("店員さんの対応がとても丁寧でした。", {"service"}),
    ("値段の割に品質が良いです。", {"price", "product_quality"}),
    ("アプリがすぐにフリーズしてログインできません。", {"app_website"}),
    # ko
    ("배송이 너무 늦게 왔고 포장도 엉망이었어요.", {"logistics", "packaging"}),
    ("가격 대비 품질이 좋아요.", {"price", "product_quality"}),
    ("환불 요청했는데 고객센터에서 답변이 없어요.", {"after_sales", "service"}),
]


@pytest.mark.parametrize(("text", "expected"), EXAMPLES, ids=[text[:24] for text, _ in EXAMPLES])
def test_default_detector_finds_the_categories_of_other_language_feedback(
    text: str, expected: set[str], default_detector: CategoryDetector
) -> None:
    assert expected <= detected([text], default_detector)[0]


def test_the_german_parcel_example_gets_exactly_delivery_and_packaging(default_detector) -> None:
    text = "Das Paket kam viel zu spät und die Verpackung war kaputt."
    assert detected([text], default_detector) == [{"logistics", "packaging"}]


def test_without_keywords_intl_other_languages_get_almost_nothing() -> None:
    stripped = Taxonomy([dataclasses.replace(c, keywords_intl=()) for c in load_taxonomy()])
    texts = [text for text, _ in EXAMPLES]
    with_intl = sum(len(found) for found in detected(texts, CategoryDetector.default()))
    without = sum(len(found) for found in detected(texts, CategoryDetector.default(stripped)))
    assert with_intl >= sum(len(expected) for _, expected in EXAMPLES) > 3 * without


# --- Chinese and English keep their categories ---------------------------------------------------------
def shared_texts(relative: str) -> list[str]:
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"{path} not available")
    with path.open(encoding="utf-8", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


@pytest.mark.parametrize(
    "relative", ["uci_sentiment_labelled_sentences/dev.csv", "zhijiang2019_ecommerce_absa/dev.csv"]
)
def test_chinese_and_english_feedback_get_the_same_categories_and_scores(relative: str) -> None:
    texts = shared_texts(relative)
    taxonomy = load_taxonomy()
    stripped = Taxonomy([dataclasses.replace(c, keywords_intl=()) for c in taxonomy])
    with_intl = CategoryDetector.default(taxonomy).predict(texts)
    without = CategoryDetector.default(stripped).predict(texts)
    assert sum(1 for row in without if row) > len(texts) // 10  # the comparison is not vacuous
    assert with_intl == without


def test_trained_category_models_see_whole_words_of_every_script() -> None:
    from closeloop.analysis.categories import feedback_words

    assert feedback_words("die lieferung kam verspätet, доставка задержалась") == [
        "die",
        "lieferung",
        "kam",
        "verspätet",
        "доставка",
        "задержалась",
    ]
    # English words are what they were ([a-z0-9]+ with an apostrophe part); Chinese runs go to jieba.
    assert feedback_words("don't buy the x200 model 质量差") == [
        "质量",
        "差",
        "don't",
        "buy",
        "the",
        "x200",
        "model",
    ]


def test_one_keyword_pass_per_text_serves_the_category_and_aspect_detectors(fast_engine) -> None:
    categories, aspects = fast_engine.category_detector, fast_engine.aspect_detector
    assert categories is not None and aspects is not None
    assert aspects.matcher is categories.matcher
    text = "Die Lieferung kam zu spät, but the packaging was fine."
    first = categories.matcher.text_hits(text)
    assert categories.matcher.text_hits(text) is first  # remembered, not matched again
    assert first == KeywordMatcher(categories.taxonomy).text_hits(text)  # and the same answer

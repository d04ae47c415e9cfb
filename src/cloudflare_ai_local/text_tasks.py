"""Local stand-ins for the text-to-text tasks: translation, summarization, sentiment and
reranking. Small word lists and counting, not neural models; all deterministic.

* Translation (m2m100, indictrans2): word by word through ``WORDS`` (about forty common
  English words in the nine languages m2m100's catalog entry lists, Hindi also serving
  indictrans2's ``hin_Deva``), via English when neither side is English; unknown words are
  kept. The result starts with the target tag, e.g. ``"[fr] bonjour monde"``, so a
  translation is always recognisable; the same language on both sides returns the text
  unchanged. m2m100 takes its 100 ISO 639-1 codes or the language names of its catalog entry
  ("french"); anything else is refused with 5006 (indictrans2's codes are its schema's enum).
* Summarization (bart-large-cnn): extractive. Sentences are scored by the document frequency
  of their content words (stopwords aside, divided by the square root of the sentence's
  length); the best, down to half the top score, are kept in document order up to
  ``max_length`` tokens (the library's estimate), the first one cut to fit (one word at least).
* Text classification: distilbert-sst-2 gets NEGATIVE/POSITIVE scores that sum to 1 from a
  sentiment lexicon (``POSITIVE``/``NEGATIVE``; "not"/"never"/"no" flips the next word);
  a model whose schema takes ``query`` and ``contexts`` (bge-reranker-base) is a reranker:
  each context scores ``sigmoid(8 * (coverage - 0.5))``, coverage being the IDF-weighted
  share of the query's content words it contains, plus 0.02 per repeated query word; the
  answer lists contexts best first, ``top_k`` of them (UNCERTAIN: whether Cloudflare's scores
  are such 0-1 values or raw logits).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from cloudflare_ai.tokens import estimate_tokens

from .engine_io import TaskAnswer, TaskCall
from .errors import bad_input

TRANSLATOR = "word-table-translator/1.0"
SUMMARIZER = "extractive-summarizer/1.0"
CLASSIFIER = "lexicon-sentiment/1.0"
RERANKER = "lexical-reranker/1.0"

_WORD = re.compile(r"\w+(?:'\w+)?", re.UNICODE)
_TOKEN = re.compile(r"\w+|[^\w\s]+|\s+", re.UNICODE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: m2m100's languages (ISO 639-1 codes of the M2M-100 release).
M2M100_CODES = _wordset(
    "af am ar ast az ba be bg bn br bs ca ceb cs cy da de el en es et fa ff fi fr fy ga gd gl "
    "gu ha he hi hr ht hu hy id ig ilo is it ja jv ka kk km kn ko lb lg ln lo lt lv mg mk ml "
    "mn mr ms my ne nl no ns oc or pa pl ps pt ro ru sd si sk sl so sq sr ss su sv sw ta th tl "
    "tn tr uk ur uz vi wo xh yi yo zh zu"
)
#: Language names in m2m100's catalog entry ("languages" property).
LANGUAGE_NAMES = {
    "english": "en",
    "chinese": "zh",
    "french": "fr",
    "spanish": "es",
    "arabic": "ar",
    "russian": "ru",
    "german": "de",
    "japanese": "ja",
    "portuguese": "pt",
    "hindi": "hi",
}
_TABLE_LANGS = ("fr", "es", "de", "pt", "zh", "ja", "ru", "ar", "hi")
_WORD_ROWS = """
hello bonjour hola hallo olá 你好 こんにちは привет مرحبا नमस्ते
world monde mundo welt mundo 世界 世界 мир عالم दुनिया
good bon bueno gut bom 好 良い хороший جيد अच्छा
morning matin mañana morgen manhã 早上 朝 утро صباح सुबह
thank merci gracias danke obrigado 谢谢 ありがとう спасибо شكرا धन्यवाद
you vous tú du você 你 あなた ты أنت आप
yes oui sí ja sim 是 はい да نعم हाँ
no non no nein não 不 いいえ нет لا नहीं
cat chat gato katze gato 猫 猫 кошка قطة बिल्ली
dog chien perro hund cão 狗 犬 собака كلب कुत्ता
house maison casa haus casa 房子 家 дом بيت घर
water eau agua wasser água 水 水 вода ماء पानी
book livre libro buch livro 书 本 книга كتاب किताब
friend ami amigo freund amigo 朋友 友達 друг صديق दोस्त
love amour amor liebe amor 爱 愛 любовь حب प्यार
today aujourd'hui hoy heute hoje 今天 今日 сегодня اليوم आज
please s'il-vous-plaît por-favor bitte por-favor 请 どうぞ пожалуйста من-فضلك कृपया
is est es ist é 是 です есть هو है
and et y und e 和 と и و और
i je yo ich eu 我 私 я أنا मैं
we nous nosotros wir nós 我们 私たち мы نحن हम
cloud nuage nube wolke nuvem 云 雲 облако سحابة बादल
city ville ciudad stadt cidade 城市 都市 город مدينة शहर
computer ordinateur computadora computer computador 电脑 コンピュータ компьютер حاسوب कंप्यूटर
language langue idioma sprache língua 语言 言語 язык لغة भाषा
new nouveau nuevo neu novo 新 新しい новый جديد नया
big grand grande groß grande 大 大きい большой كبير बड़ा
small petit pequeño klein pequeno 小 小さい маленький صغير छोटा
day jour día tag dia 天 日 день يوم दिन
night nuit noche nacht noite 夜 夜 ночь ليل रात
time temps tiempo zeit tempo 时间 時間 время وقت समय
people gens gente leute pessoas 人们 人々 люди ناس लोग
how comment cómo wie como 怎么 どう как كيف कैसे
are êtes estás bist está 是 です есть أنت हैं
what quoi qué was que 什么 何 что ماذا क्या
where où dónde wo onde 哪里 どこ где أين कहाँ
"""
WORDS: dict[str, dict[str, str]] = {
    row.split()[0]: dict(zip(_TABLE_LANGS, row.split()[1:], strict=True))
    for row in _WORD_ROWS.strip().splitlines()
}
_REVERSE = {lang: {row[lang]: english for english, row in WORDS.items()} for lang in _TABLE_LANGS}
_INDIC_TO_TABLE = {"hin_Deva": "hi", "eng_Latn": "en"}

STOPWORDS = _wordset(
    "a an the and or but if of at by for with about to from in on is are was were be been "
    "being it its this that these those i you he she we they them his her their our your my "
    "me us as not no do does did so than then there here what which who whom how when where "
    "why all any can could will would should may might must have has had into over under"
)
POSITIVE = _wordset(
    "good great excellent amazing wonderful love loved lovely like liked best happy glad "
    "enjoy enjoyed fantastic awesome nice beautiful perfect brilliant pleasant delightful "
    "recommend fun superb positive fine helpful friendly fast easy works worked"
)
NEGATIVE = _wordset(
    "bad terrible awful horrible hate hated worst poor sad angry boring broken disappointing "
    "disappointed ugly slow useless annoying wrong fail failed fails problem negative waste "
    "crash crashed bug buggy hard difficult painful nasty"
)
_NEGATIONS = frozenset({"not", "never", "no", "n't", "cannot", "isn't", "don't", "doesn't"})


# --- translation -----------------------------------------------------------------------------


def _m2m_code(value: Any, field: str) -> str:
    code = str(value).strip()
    low = code.lower()
    if low in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[low]
    if low in M2M100_CODES:
        return low
    # UNCERTAIN: Cloudflare's message for an unsupported language.
    raise bad_input(f"Error: unsupported language code '{code}' at '/{field}'")


def _translate_word(word: str, source: str, target: str) -> str:
    low = word.lower()
    english = low if source == "en" else _REVERSE.get(source, {}).get(low)
    if english is None:
        return word
    out = english if target == "en" else WORDS.get(english, {}).get(target)
    if not out:
        return word
    out = out.replace("-", " ")
    return out[:1].upper() + out[1:] if word[:1].isupper() else out


def translate_text(text: str, source: str, target: str, tag: str) -> str:
    if source == target:
        return text
    pieces = [
        _translate_word(p, source, target) if _WORD.fullmatch(p) else p
        for p in _TOKEN.findall(text)
    ]
    return f"[{tag}] " + "".join(pieces).strip()


def translate(call: TaskCall) -> TaskAnswer:
    body = call.body
    if "target_language" in body:  # indictrans2: English to the schema's Indic codes
        target_code = str(body["target_language"])
        target = _INDIC_TO_TABLE.get(target_code, target_code)
        raw = body.get("text")
        texts = [raw] if isinstance(raw, str) else [str(t) for t in raw or []]
        out = [translate_text(t, "en", target, target_code) for t in texts]
        return TaskAnswer(TRANSLATOR, {"translations": out})
    text = call.text("text")
    source = _m2m_code(body.get("source_lang", "en"), "source_lang")
    target = _m2m_code(call.text("target_lang"), "target_lang")
    return TaskAnswer(TRANSLATOR, {"translated_text": translate_text(text, source, target, target)})


# --- summarization ---------------------------------------------------------------------------


def _content_words(text: str) -> list[str]:
    return [w for w in (m.lower() for m in _WORD.findall(text)) if w not in STOPWORDS]


def summarize_text(text: str, max_tokens: int) -> str:
    sentences = [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]
    if not sentences:
        return ""
    freq = Counter(_content_words(text))

    def score(sentence: str) -> float:
        words = _content_words(sentence)
        return sum(freq[w] for w in words) / math.sqrt(len(words) + 1)

    scores = [score(s) for s in sentences]
    ranked = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
    chosen: list[int] = []
    used = 0
    for i in ranked:
        if scores[i] < 0.5 * scores[ranked[0]]:
            break
        cost = estimate_tokens(sentences[i])
        if used + cost <= max_tokens:
            chosen.append(i)
            used += cost
    if not chosen:  # even the best sentence is too long: cut it
        words = sentences[ranked[0]].split()
        while len(words) > 1 and estimate_tokens(" ".join(words)) > max_tokens:
            words.pop()
        return " ".join(words)
    return " ".join(sentences[i] for i in sorted(chosen))


def summarize(call: TaskCall) -> TaskAnswer:
    text = call.text("input_text")
    limit = call.body.get("max_length")
    if not isinstance(limit, int) or isinstance(limit, bool):
        default = call.input_property("max_length").get("default", 1024)
        limit = int(default) if isinstance(default, int) else 1024
    if limit < 1:
        raise bad_input("Error: max_length must be at least 1")
    return TaskAnswer(SUMMARIZER, {"summary": summarize_text(text, limit)})


# --- classification and reranking ------------------------------------------------------------


def sentiment(text: str) -> float:
    """P(positive) from lexicon counts; a negation flips the next sentiment word."""
    balance = 0
    flip = False
    for word in (w.lower() for w in _WORD.findall(text)):
        if word in _NEGATIONS or word.endswith("n't"):
            flip = True
            continue
        value = (word in POSITIVE) - (word in NEGATIVE)
        if value:
            balance += -value if flip else value
            flip = False
    return 1 / (1 + math.exp(-(1.6 * balance + 0.1)))


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def rerank(query: str, contexts: list[str]) -> list[tuple[int, float]]:
    """(index, score) of every context, best first (ties keep the request's order)."""
    docs = [Counter(_stem(w) for w in _content_words(c)) for c in contexts]
    terms = list(dict.fromkeys(_stem(w) for w in _content_words(query)))
    n = len(docs)
    idf = {t: math.log(1 + (n + 1) / (1 + sum(t in d for d in docs))) for t in terms}
    total = sum(idf.values()) or 1.0
    scored = []
    for i, doc in enumerate(docs):
        coverage = sum(idf[t] for t in terms if t in doc) / total
        repeats = sum(max(doc[t] - 1, 0) for t in terms)
        logit = 8 * (coverage - 0.5) + 0.02 * repeats
        scored.append((i, 1 / (1 + math.exp(-logit))))
    return sorted(scored, key=lambda s: (-s[1], s[0]))


def classify(call: TaskCall) -> TaskAnswer:
    body = call.body
    if call.input_property("contexts") or "contexts" in body:
        contexts = [
            str(c.get("text", "")) if isinstance(c, dict) else str(c)
            for c in body.get("contexts") or []
        ]
        ranked = rerank(call.text("query"), contexts)
        top_k = body.get("top_k")
        if isinstance(top_k, int) and not isinstance(top_k, bool) and top_k >= 1:
            ranked = ranked[:top_k]
        result = {"response": [{"id": i, "score": round(s, 6)} for i, s in ranked]}
        return TaskAnswer(RERANKER, result)
    p = sentiment(call.text("text"))
    # UNCERTAIN: the order of the two labels in Cloudflare's answer.
    labels = [{"label": "NEGATIVE", "score": 1 - p}, {"label": "POSITIVE", "score": p}]
    return TaskAnswer(CLASSIFIER, labels)

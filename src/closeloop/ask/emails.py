"""Invitation and reminder e-mails: bilingual, one-click score links, the full form, unsubscribe."""

from __future__ import annotations

from html import escape

from closeloop.ask.definitions import ScoredQuestion, Survey, text_for
from closeloop.ask.links import answer_path, one_click_path, unsubscribe_path
from closeloop.notify.mailer import Mail

SUBJECT_PREFIX = {"zh": {"invite": "", "reminder": "提醒："}, "en": {"invite": "", "reminder": "Reminder: "}}
OPEN_FORM = {"zh": "填写问卷", "en": "Answer the survey"}
UNSUBSCRIBE = {"zh": "不想再收到问卷？退订", "en": "Don't want surveys? Unsubscribe"}
ONE_CLICK_HINT = {"zh": "点击一个分数即可作答：", "en": "Click a score to answer:"}


def first_scored_question(survey: Survey) -> ScoredQuestion | None:
    """The question an e-mail can answer with one click: the first one, if it is scored and unconditional."""
    first = survey.questions[0]
    if isinstance(first, ScoredQuestion) and not first.show_if:
        return first
    return None


def compose(
    survey: Survey,
    *,
    to: str,
    token: str,
    language: str,
    public_url: str,
    kind: str = "invite",
    key: str = "",
) -> Mail:
    """The e-mail for one invitation (``kind`` ``invite`` or ``reminder``) in ``language``."""
    lang = language if language in ("zh", "en") else survey.default_language
    base = public_url.rstrip("/")
    form_url = base + answer_path(token, lang=lang)
    unsubscribe_url = base + unsubscribe_path(token)
    title = text_for(survey.title, lang)
    intro = text_for(survey.intro, lang) if survey.intro else ""
    question = first_scored_question(survey)
    score_links: list[tuple[int, str]] = []
    if question is not None:
        low, high = question.scale
        score_links = [(n, base + one_click_path(token, question.id, n)) for n in range(low, high + 1)]

    lines = [title, ""]
    if intro:
        lines += [intro, ""]
    if question is not None:
        lines += [text_for(question.text, lang), ONE_CLICK_HINT[lang]]
        lines += [f"  {n}: {url}" for n, url in score_links]
        lines.append("")
    lines += [f"{OPEN_FORM[lang]}: {form_url}", "", f"{UNSUBSCRIBE[lang]}: {unsubscribe_url}"]

    html = [f"<h2>{escape(title)}</h2>"]
    if intro:
        html.append(f"<p>{escape(intro)}</p>")
    if question is not None:
        html.append(f"<p>{escape(text_for(question.text, lang))}</p><p>")
        html += [
            f'<a href="{escape(url)}" style="display:inline-block;padding:8px 10px;margin:2px;'
            f'border:1px solid #888;border-radius:4px;text-decoration:none">{n}</a>'
            for n, url in score_links
        ]
        html.append("</p>")
    html.append(f'<p><a href="{escape(form_url)}">{OPEN_FORM[lang]}</a></p>')
    html.append(
        f'<p style="font-size:12px;color:#666">'
        f'<a href="{escape(unsubscribe_url)}">{UNSUBSCRIBE[lang]}</a></p>'
    )
    return Mail(
        to=to,
        subject=SUBJECT_PREFIX[lang][kind] + title,
        text="\n".join(lines) + "\n",
        html="\n".join(html),
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",  # RFC 8058: POST /u/<token>
            "X-Closeloop-Invitation": key,
        },
    )

"""Defining surveys and routing rules in the web UI: a YAML editor that names each problem by its path,
saves and shows results; a routing rule dry run on recent feedback. Signed in through the /login form."""

from __future__ import annotations

SURVEY = """
id: store-visit
title: {zh: 门店体验, en: Store visit}
questions:
  - {id: csat, type: csat, required: true, text: {zh: 您对本次到店体验满意吗？, en: "Satisfied?"}}
  - {id: why, type: text, explains: csat, text: {zh: 为什么？, en: "Why?"}}
"""


def test_an_analyst_defines_a_survey_in_the_ui(browser_as, client, csrf_of):
    analyst = browser_as("analyst")
    editor = analyst.get("/surveys/new")
    assert editor.status_code == 200 and "textarea" in editor.text
    broken = analyst.post(
        "/surveys",
        data={"csrf_token": csrf_of(editor), "source": SURVEY.replace("explains: csat", "explains: nps")},
    )
    assert broken.status_code == 422 and "questions[1]" in broken.text and "nps" in broken.text
    saved = analyst.post("/surveys", data={"csrf_token": csrf_of(editor), "source": SURVEY})
    assert saved.status_code == 303 and saved.headers["location"].startswith("/surveys/store-visit")
    yaml_error = analyst.post("/surveys", data={"csrf_token": csrf_of(editor), "source": "id: [unclosed"})
    assert yaml_error.status_code == 422 and "line 1" in yaml_error.text
    page = analyst.get("/surveys/store-visit")
    assert page.status_code == 200 and "门店体验" in page.text and "/s/store-visit" in page.text
    assert 'data-survey="store-visit"' in page.text.replace("&#34;", '"')
    assert client.get("/api/v1/surveys/store-visit").json()["definition"]["questions"][0]["type"] == "csat"
    listing = analyst.get("/surveys")
    assert 'data-id="store-visit"' in listing.text
    assert analyst.post("/surveys", data={"source": SURVEY}).status_code == 403  # no CSRF token

    viewer = browser_as("viewer")
    assert viewer.get("/surveys").status_code == 200
    assert viewer.get("/surveys/new").status_code == 403


def test_routing_rules_edited_and_dry_run_in_the_ui(browser_as, client, csrf_of):
    client.post("/api/v1/feedback", json={"channel": "weibo", "text": "<b>太差了</b>，再也不买"})
    analyst = browser_as("analyst")
    page = analyst.get("/routing")
    assert page.status_code == 200
    rules = (
        "rules:\n  - id: social\n    name: 舆情\n    when: {channels: [weibo]}\n"
        "    then: {team: public-relations, priority: high}\n"
    )
    saved = analyst.post("/routing", data={"csrf_token": csrf_of(page), "source": rules})
    assert saved.status_code == 303
    assert [r["id"] for r in client.get("/api/v1/routing-rules").json()["rules"]] == ["social"]
    bad = analyst.post(
        "/routing", data={"csrf_token": csrf_of(page), "source": "rules:\n  - id: x\n    then: {}\n"}
    )
    assert bad.status_code == 422 and "rules[0]" in bad.text
    dry = analyst.post(
        "/routing/dry-run",
        data={
            "csrf_token": csrf_of(page),
            "candidate": "id: w\nname: 微博\nwhen: {channels: [weibo]}\nthen: {team: pr}\n",
        },
    )
    assert dry.status_code == 200 and 'id="matched">1<' in dry.text
    assert "<b>太差了</b>" not in dry.text and "&lt;b&gt;太差了" in dry.text  # escaped
    agent = browser_as("agent", team="logistics")
    assert agent.get("/routing").status_code == 200
    assert (
        agent.post(
            "/routing", data={"csrf_token": csrf_of(agent.get("/routing")), "source": rules}
        ).status_code
        == 403
    )

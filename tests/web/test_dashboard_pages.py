"""The dashboard page over HTTP: who may open it, what it embeds for its script, the vendored ECharts."""

from __future__ import annotations

import json
import re
from pathlib import Path

from closeloop.web.dashboard_pages import SENTIMENTS

VENDOR = Path(__file__).resolve().parents[2] / "src" / "closeloop" / "web" / "static" / "vendor"


def page_config(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="dashboard-config">(.*?)</script>', html, re.S)
    assert found, "the page embeds its configuration"
    return json.loads(found.group(1))


def test_signed_out_visitors_are_sent_to_sign_in(live_server):
    import httpx

    with httpx.Client(base_url=live_server) as anonymous:
        page = anonymous.get("/dashboard?lang=en&channel=jd")
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=/dashboard%3Flang%3Den%26channel%3Djd"
        assert anonymous.get("/dashboard/taxonomy.json").status_code == 401


def test_an_analyst_gets_the_page_with_its_csrf_token_and_taxonomy(browser_as, csrf_of):
    analyst = browser_as("analyst", email="ana@example.com")
    page = analyst.get("/dashboard")
    assert page.status_code == 200
    assert "反馈洞察看板" in page.text and 'id="nav-dashboard"' in page.text
    config = page_config(page.text)
    assert config["lang"] == "zh" and config["author"] == "ana@example.com"
    assert config["csrf_token"] == csrf_of(page)  # the same token the page's forms carry
    assert config["can_correct"] is True and config["can_export"] is True
    assert {"id": "packaging", "name_zh": "包装", "name_en": "Packaging"} in config["categories"]
    assert config["texts"]["dash_complaint_rate"] == "投诉率"
    assert '<option value="jd">jd</option>' in page.text
    assert 'src="/static/vendor/echarts.min.js"' in page.text and 'id="export"' in page.text


def test_english_page_for_a_viewer_offers_no_correction_or_export(browser_as):
    viewer = browser_as("viewer")
    page = viewer.get("/dashboard?lang=en")
    assert page.status_code == 200
    assert "Feedback insight dashboard" in page.text
    config = page_config(page.text)
    assert config["texts"]["dash_complaint_rate"] == "Complaint rate"
    assert config["can_correct"] is False and config["can_export"] is False
    assert 'id="export"' not in page.text


def test_taxonomy_json_lists_categories_and_sentiments(client):
    body = client.get("/dashboard/taxonomy.json").json()
    assert body["sentiments"] == list(SENTIMENTS)
    ids = [category["id"] for category in body["categories"]]
    assert "packaging" in ids and "logistics" in ids and len(ids) == len(set(ids))


def test_echarts_is_served_from_the_app_with_its_licence(client):
    script = client.get("/static/vendor/echarts.min.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert 'version="5.6.0"' in script.text  # the version README.md in vendor/ names
    licence = (VENDOR / "ECHARTS-LICENSE.txt").read_text(encoding="utf-8")
    assert "Apache License" in licence and "Version 2.0" in licence
    assert (VENDOR / "ECHARTS-NOTICE.txt").read_text(encoding="utf-8").startswith("Apache ECharts")
    assert client.get("/static/dashboard.js").status_code == 200


def test_the_language_filter_offers_every_language_the_feedback_carries(client, browser_as, db):
    from closeloop.insight.rollups import rebuild

    for text, language in (("配送が遅すぎる", "ja"), ("Livraison rapide", "fr"), ("好评", "zh")):
        body = {"text": text, "channel": "jd", "language": language}
        assert client.post("/api/v1/feedback", json=body).status_code == 201
    rebuild(db)
    page = browser_as("analyst").get("/dashboard?lang=en").text
    options = re.findall(r'<option value="(\w+)">([^<]+)</option>', page.split('id="f-language"')[1])
    assert options[:4] == [("zh", "Chinese"), ("en", "English"), ("fr", "French"), ("ja", "Japanese")]

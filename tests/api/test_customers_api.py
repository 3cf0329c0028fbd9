"""Customers with segments and consent: upsert, consent history, the decision in force."""

from __future__ import annotations


def test_customer_upsert_and_consent(client):
    body = {
        "external_id": "C-7",
        "name": "陈先生",
        "email": "chen@example.com",
        "region": "华东",
        "tier": "gold",
        "lifetime_value": 12800.5,
        "attributes": {"city": "杭州"},
    }
    created = client.put("/api/v1/customers/C-7", json=body)
    assert created.status_code == 200, created.text
    assert created.json()["tier"] == "gold" and created.json()["consent_in_force"]["survey"] is False
    client.put("/api/v1/customers/C-7", json={"external_id": "C-7", "tier": "diamond"})
    got = client.get("/api/v1/customers/C-7").json()
    # Contact fields are masked in the customer record; /contact shows them (audited).
    assert (got["tier"], got["name"], got["email"], got["attributes"]) == (
        "diamond",
        "陈**",
        "c***@example.com",
        {"city": "杭州"},
    )
    contact = client.get("/api/v1/customers/C-7/contact").json()
    assert (contact["name"], contact["email"]) == ("陈先生", "chen@example.com")

    yes = client.post(
        "/api/v1/customers/C-7/consents",
        json={
            "purpose": "survey",
            "granted": True,
            "source": "checkout",
            "recorded_at": "2026-10-01T00:00:00Z",
        },
    )
    assert yes.status_code == 201 and yes.json()["consent_in_force"]["survey"] is True
    no = client.post(
        "/api/v1/customers/C-7/consents",
        json={"purpose": "survey", "granted": False, "recorded_at": "2026-10-02T00:00:00Z"},
    )
    after = no.json()
    assert after["consent_in_force"]["survey"] is False
    assert [(c["purpose"], c["granted"]) for c in after["consents"]] == [("survey", True), ("survey", False)]


def test_customer_errors(client):
    assert client.get("/api/v1/customers/nobody").status_code == 404
    client.put("/api/v1/customers/C-1", json={"external_id": "C-1"})
    bad = client.post("/api/v1/customers/C-1/consents", json={"purpose": "spam", "granted": True})
    assert bad.status_code == 422 and "unknown consent purpose" in bad.json()["detail"]
    mismatch = client.put("/api/v1/customers/C-1", json={"external_id": "C-2"})
    assert mismatch.status_code == 422

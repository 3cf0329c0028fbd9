"""Privacy by design: PII found and redacted in text (``pii``), personal data encrypted at rest with
rotatable keys (``crypto``, ``keys``), masked views (``masking``), a customer's export and erasure
(``subjects``) and retention periods (``retention``)."""

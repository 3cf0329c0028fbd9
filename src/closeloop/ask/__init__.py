"""Ask: survey definitions, answers, scores (NPS, CSAT, CES), A/B tests and invitation planning.

Pure functions and typed models only: no database, no HTTP, no clock (``now`` is always passed in).
The store, the API, the CLI and the scheduler are thin callers of what lives here.
"""

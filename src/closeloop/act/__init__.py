"""Act: routing rules (feedback item → team, priority, SLA), SLA clocks, and cases.

``routing`` and ``sla`` are pure: typed models and functions, no database, no HTTP, no clock (``now`` is
always passed in). The store, the API and the background jobs are thin callers of them.
"""

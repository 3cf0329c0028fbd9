"""The public community portal: boards where customers post suggestions and problems, vote, comment and
follow; staff answer as the brand, merge duplicates, set a public status and close the loop in public.

Every published post, comment and vote also enters the feedback store (channel ``community``) so it is
analysed like any other feedback: ``posts.py``. Sign-in by e-mail link: ``members.py``. Rate limits, the
spam and abuse filter and moderator actions: ``moderation.py``. Status-change e-mails: ``notifications.py``.
Similar-post suggestions: ``similar.py``.
"""

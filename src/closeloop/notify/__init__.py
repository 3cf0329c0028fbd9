"""Telling people things: e-mail over SMTP (survey invitations now; follow-ups and digests later)."""

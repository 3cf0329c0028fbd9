"""Accounts and roles: users, passwords, sessions, API tokens, permissions and the audit log."""

"""Ops console: accounts, server-side sessions and the audit log (``vitalstream console``).

Sessions live in a table so several console replicas share them; only a SHA-256 of the
session id is stored (a copy of the table does not let anyone in). The audit log keeps
every console action, failed logins included (they drive the login throttle), and never
a password or a personal value.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.execute("""
CREATE TABLE console_accounts (
    name          text PRIMARY KEY,
    role          text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE console_accounts IS 'Ops console accounts; password_hash is argon2id (never the password).';

CREATE TABLE console_sessions (
    id_sha256  text PRIMARY KEY,
    account    text NOT NULL REFERENCES console_accounts (name) ON DELETE CASCADE,
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX console_sessions_expires_at_idx ON console_sessions (expires_at);
COMMENT ON TABLE console_sessions IS
    'Console sessions (shared by replicas); the cookie holds the id, this table its SHA-256.';

CREATE TABLE console_audit (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text NOT NULL,
    role    text,
    action  text NOT NULL,
    target  text,
    outcome text NOT NULL,
    detail  jsonb NOT NULL DEFAULT '{}'::jsonb,
    address text
);
CREATE INDEX console_audit_at_idx ON console_audit (at);
CREATE INDEX console_audit_login_idx ON console_audit (action, outcome, at);
COMMENT ON TABLE console_audit IS
    'Every console action: who, what, on what, outcome (no passwords, no personal values).';
""")


def downgrade() -> None:
    op.execute("DROP TABLE console_audit; DROP TABLE console_sessions; DROP TABLE console_accounts;")

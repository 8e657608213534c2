"""API keys for the read API and its least-privilege role ``vitalstream_reader``.

A key is a random 256-bit token shown once by ``vitalstream api-keys create``; only its SHA-256
digest is stored (``key_hash``). A slow password hash (argon2, bcrypt) protects guessable
secrets; a 256-bit random token cannot be guessed, so one SHA-256 is as safe and costs
microseconds on every request (the scheme GitHub uses for its tokens). ``prefix`` is the
token's first characters: enough for a person to tell keys apart in ``api-keys ls``, no help
to anyone guessing. ``subjects`` are glob patterns (``clinic-a-*``), ``scopes`` a subset of
``read``, ``stream``, ``fhir``; a revoked key keeps its row (``revoked_at``) so its name is
never reused by accident.

``vitalstream_reader`` (NOLOGIN here: a deployment gives it a login and a password) may read
``latest_metrics``, ``observations``, ``data_quality_daily`` and ``api_keys`` of this schema and
nothing else.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

READER_TABLES = ("latest_metrics", "observations", "data_quality_daily", "api_keys")

API_KEYS = """
CREATE TABLE api_keys (
    name       text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    prefix     text NOT NULL,
    key_hash   bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    subjects   text[] NOT NULL CHECK (cardinality(subjects) > 0),
    scopes     text[] NOT NULL CHECK (scopes <@ ARRAY['read', 'stream', 'fhir']::text[]),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
COMMENT ON TABLE api_keys IS
    'Read API keys: SHA-256 of the token (never the token), subject globs, scopes; revoked keys stay.';
"""

# Roles are cluster-wide: create it once, tolerate a concurrent creator; grants are per schema.
READER_ROLE = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vitalstream_reader') THEN
        CREATE ROLE vitalstream_reader NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO vitalstream_reader', current_schema());
    EXECUTE format('GRANT SELECT ON {", ".join(READER_TABLES)} TO vitalstream_reader');
END
$$;
"""

DROP = f"""
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vitalstream_reader') THEN
        EXECUTE format('REVOKE SELECT ON {", ".join(READER_TABLES[:-1])} FROM vitalstream_reader');
        EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM vitalstream_reader', current_schema());
    END IF;
END
$$;
DROP TABLE api_keys;
"""


def upgrade() -> None:
    op.execute(API_KEYS)
    op.execute(READER_ROLE)


def downgrade() -> None:
    op.execute(DROP)

-- Identities, sessions and the cookie key ring (PostgreSQL; kept in step with 0001_initial.sqlite.sql).
-- Timestamps are microseconds since the Unix epoch (UTC), as bigint, exactly as in SQLite.
-- Text keys use the "C" collation so that ordering is by code point, as in SQLite.
CREATE TABLE identities (
    id               TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    schema_id        TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('active', 'inactive')),
    state_changed_at BIGINT  NULL,
    traits           TEXT    NOT NULL,
    metadata_public  TEXT    NULL,
    metadata_admin   TEXT    NULL,
    external_id      TEXT    NULL CONSTRAINT identities_external_id_key UNIQUE,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);

CREATE TABLE sessions (
    id                     TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    lookup_key             TEXT    NOT NULL CONSTRAINT sessions_lookup_key_key UNIQUE,
    identity_id            TEXT COLLATE "C" NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    channel                TEXT    NOT NULL CHECK (channel IN ('api', 'browser')),
    active                 BIGINT  NOT NULL,
    aal                    TEXT    NOT NULL,
    authentication_methods TEXT    NOT NULL,
    devices                TEXT    NOT NULL,
    issued_at              BIGINT  NOT NULL,
    authenticated_at       BIGINT  NOT NULL,
    expires_at             BIGINT  NOT NULL,
    created_at             BIGINT  NOT NULL,
    updated_at             BIGINT  NOT NULL
);

CREATE INDEX sessions_identity_created ON sessions (identity_id, created_at DESC, id);
CREATE INDEX sessions_created ON sessions (created_at DESC, id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE data_protection_keys (
    friendly_name TEXT    NOT NULL PRIMARY KEY,
    xml           TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL
);

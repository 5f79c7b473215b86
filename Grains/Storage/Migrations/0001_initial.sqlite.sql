-- Identities, sessions and the cookie key ring. Timestamps are microseconds since the Unix epoch (UTC).
CREATE TABLE identities (
    id               TEXT    NOT NULL PRIMARY KEY,
    schema_id        TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('active', 'inactive')),
    state_changed_at INTEGER NULL,
    traits           TEXT    NOT NULL,
    metadata_public  TEXT    NULL,
    metadata_admin   TEXT    NULL,
    external_id      TEXT    NULL UNIQUE,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

CREATE TABLE sessions (
    id                     TEXT    NOT NULL PRIMARY KEY,
    lookup_key             TEXT    NOT NULL UNIQUE,
    identity_id            TEXT    NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    channel                TEXT    NOT NULL CHECK (channel IN ('api', 'browser')),
    active                 INTEGER NOT NULL,
    aal                    TEXT    NOT NULL,
    authentication_methods TEXT    NOT NULL,
    devices                TEXT    NOT NULL,
    issued_at              INTEGER NOT NULL,
    authenticated_at       INTEGER NOT NULL,
    expires_at             INTEGER NOT NULL,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);

CREATE INDEX sessions_identity_created ON sessions (identity_id, created_at DESC, id);
CREATE INDEX sessions_created ON sessions (created_at DESC, id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE data_protection_keys (
    friendly_name TEXT    NOT NULL PRIMARY KEY,
    xml           TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);

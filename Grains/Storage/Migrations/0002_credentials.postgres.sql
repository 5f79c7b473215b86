-- Credentials and login identifiers of identities, and a version counter for identity changes.
ALTER TABLE identities ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

CREATE TABLE identity_credentials (
    identity_id   TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE,
    password_hash TEXT    NULL,
    totp_secret   TEXT    NULL,
    updated_at    BIGINT  NOT NULL
);

-- One row per login identifier (normalised); the primary key makes identifiers unique across identities.
CREATE TABLE identity_identifiers (
    identifier  TEXT COLLATE "C" NOT NULL CONSTRAINT identity_identifiers_pkey PRIMARY KEY,
    identity_id TEXT COLLATE "C" NOT NULL REFERENCES identities (id) ON DELETE CASCADE
);

CREATE INDEX identity_identifiers_identity ON identity_identifiers (identity_id);

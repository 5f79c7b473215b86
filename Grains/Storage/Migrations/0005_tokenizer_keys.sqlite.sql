-- Signing keys of session tokenization (session.whoami.tokenizer), one key ring for every node.
-- A key signs from activates_at until the next key of its algorithm activates; it stays published in
-- the JWKS until every token it signed has expired. private_jwk is the JWK with its private part.
CREATE TABLE tokenizer_keys (
    kid          TEXT    NOT NULL PRIMARY KEY,
    algorithm    TEXT    NOT NULL,
    private_jwk  TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    activates_at INTEGER NOT NULL
);
CREATE INDEX tokenizer_keys_by_algorithm ON tokenizer_keys (algorithm, activates_at);

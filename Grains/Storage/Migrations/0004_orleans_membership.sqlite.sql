-- Orleans cluster membership: the same tables as 0004_orleans_membership.postgres.sql, so that both dialects
-- keep one schema. Only PostgreSQL clustering is offered (orleans:membership = postgres; SQLite nodes use
-- localhost clustering), so no queries are registered here and these tables stay empty.
CREATE TABLE orleansquery (
    querykey  TEXT NOT NULL PRIMARY KEY,
    querytext TEXT NOT NULL
);

CREATE TABLE orleans_membership_version (
    deployment_id TEXT    NOT NULL PRIMARY KEY,
    changed_at    TEXT    NOT NULL,
    version       INTEGER NOT NULL
);

CREATE TABLE orleans_membership (
    deployment_id   TEXT    NOT NULL REFERENCES orleans_membership_version (deployment_id) ON DELETE CASCADE,
    address         TEXT    NOT NULL,
    port            INTEGER NOT NULL,
    generation      INTEGER NOT NULL,
    silo_name       TEXT    NOT NULL,
    host_name       TEXT    NOT NULL,
    status          INTEGER NOT NULL,
    proxy_port      INTEGER NOT NULL,
    suspect_times   TEXT    NULL,
    start_time      TEXT    NOT NULL,
    i_am_alive_time TEXT    NOT NULL,
    PRIMARY KEY (deployment_id, address, port, generation)
);

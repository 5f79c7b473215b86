-- Regions (kept in step with 0007_regions.sqlite.sql; only PostgreSQL replicates). Every replicated row records
-- its home region, the region whose database alone writes it ('' when no regions are configured): each region's
-- publication carries the rows of its own region, so a row never comes back to where it was written and two
-- regions never write the same row. A row filter on updates and deletes may only name columns of the replica
-- identity, hence a unique index of (key, region) on each table as its replica identity.
ALTER TABLE identities ADD COLUMN region TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE identity_credentials ADD COLUMN region TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE identity_identifiers ADD COLUMN region TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN region TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE data_protection_keys ADD COLUMN region TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE tokenizer_keys ADD COLUMN region TEXT COLLATE "C" NOT NULL DEFAULT '';

CREATE UNIQUE INDEX identities_replica ON identities (id, region);
CREATE UNIQUE INDEX identity_credentials_replica ON identity_credentials (identity_id, region);
CREATE UNIQUE INDEX sessions_replica ON sessions (id, region);
CREATE UNIQUE INDEX data_protection_keys_replica ON data_protection_keys (friendly_name, region);
CREATE UNIQUE INDEX tokenizer_keys_replica ON tokenizer_keys (kid, region);
-- Identifiers and external ids are unique per region, so that two regions creating the same one within the
-- replication delay never stop replication with a conflict; the store checks every region's rows this database has
-- before it writes (identity_identifiers' primary key, now with its region, is also its replica identity).
ALTER TABLE identity_identifiers DROP CONSTRAINT identity_identifiers_pkey;
ALTER TABLE identity_identifiers ADD CONSTRAINT identity_identifiers_pkey PRIMARY KEY (identifier, region);
ALTER TABLE identities DROP CONSTRAINT identities_external_id_key;
ALTER TABLE identities ADD CONSTRAINT identities_external_id_key UNIQUE (external_id, region);
ALTER TABLE identities REPLICA IDENTITY USING INDEX identities_replica;
ALTER TABLE identity_credentials REPLICA IDENTITY USING INDEX identity_credentials_replica;
ALTER TABLE sessions REPLICA IDENTITY USING INDEX sessions_replica;
ALTER TABLE data_protection_keys REPLICA IDENTITY USING INDEX data_protection_keys_replica;
ALTER TABLE tokenizer_keys REPLICA IDENTITY USING INDEX tokenizer_keys_replica;

-- Each region's heartbeat, written by its own silos and replicated to the others: a region that has applied a
-- peer's beat written at T has applied everything the peer committed before T (a subscription applies in commit
-- order), which is what the lease of a peer's sessions rests on.
CREATE TABLE region_heartbeats (
    region  TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    beat_at BIGINT NOT NULL
);

-- What changed in this database that the silos of this region must apply to what they hold: numbered in commit
-- order (the trigger takes one lock to the end of its transaction before it takes a number), so a silo that read up
-- to N has missed nothing below N. Not replicated: each region records what reaches its own database.
CREATE TABLE region_changes (
    seq         BIGSERIAL PRIMARY KEY,
    kind        TEXT   NOT NULL CHECK (kind IN ('session', 'identity', 'heartbeat')),
    key         TEXT   COLLATE "C" NOT NULL,
    identity_id TEXT   COLLATE "C" NULL,
    region      TEXT   COLLATE "C" NOT NULL,
    value       BIGINT NULL,
    recorded_at BIGINT NOT NULL
);
CREATE INDEX region_changes_recorded ON region_changes (recorded_at);

-- Replication's apply workers run with an empty search_path: the function keeps the one it was created under.
CREATE FUNCTION orleans_sessions_record_change() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(5199202411);
    IF TG_TABLE_NAME = 'sessions' THEN
        INSERT INTO region_changes (kind, key, identity_id, region, recorded_at)
        VALUES ('session', NEW.lookup_key, NEW.identity_id, NEW.region, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint);
    ELSIF TG_TABLE_NAME = 'identities' THEN
        INSERT INTO region_changes (kind, key, identity_id, region, recorded_at)
        VALUES ('identity', NEW.id, NEW.id, NEW.region, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint);
    ELSE
        INSERT INTO region_changes (kind, key, region, value, recorded_at)
        VALUES ('heartbeat', NEW.region, NEW.region, NEW.beat_at, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint);
    END IF;
    PERFORM pg_notify('orleans_sessions_changes', '');
    RETURN NULL;
END
$$;

-- A session changed by any writer (its own region's, another region's through this database, or replication);
-- a session that arrives by replication (its region's silos hold what they issued). Last-seen batches do not count.
CREATE TRIGGER sessions_changed AFTER UPDATE ON sessions FOR EACH ROW
    WHEN (OLD.active IS DISTINCT FROM NEW.active OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
          OR OLD.aal IS DISTINCT FROM NEW.aal OR OLD.authenticated_at IS DISTINCT FROM NEW.authenticated_at)
    EXECUTE FUNCTION orleans_sessions_record_change();
CREATE TRIGGER sessions_arrived AFTER INSERT ON sessions FOR EACH ROW EXECUTE FUNCTION orleans_sessions_record_change();
CREATE TRIGGER identities_changed AFTER UPDATE ON identities FOR EACH ROW EXECUTE FUNCTION orleans_sessions_record_change();
CREATE TRIGGER region_heartbeats_arrived AFTER INSERT OR UPDATE ON region_heartbeats FOR EACH ROW
    EXECUTE FUNCTION orleans_sessions_record_change();
-- Off until `regions link` turns them on (sessions_changed and identities_changed for every writer, the other two
-- for replication only): without regions nothing is recorded and no write takes the lock.
ALTER TABLE sessions DISABLE TRIGGER sessions_changed;
ALTER TABLE sessions DISABLE TRIGGER sessions_arrived;
ALTER TABLE identities DISABLE TRIGGER identities_changed;
ALTER TABLE region_heartbeats DISABLE TRIGGER region_heartbeats_arrived;

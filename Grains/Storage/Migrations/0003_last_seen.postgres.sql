-- When a session was last used, written in coalesced batches (session.idle_timeout).
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NULL;

-- Workers say which job kinds they run (claims match on it); '*' is every kind (agents that do not say).
ALTER TABLE workers ADD COLUMN kinds text[] NOT NULL DEFAULT '{*}';

-- Long-lived, revocable worker credentials minted by an admin; exchanged for short access tokens with
-- the worker role. Only a hash of the secret is kept.
CREATE TABLE worker_credentials (
  id text PRIMARY KEY CHECK (id ~ '^[a-f0-9]{16}$'),
  secret_hash text NOT NULL,
  principal text NOT NULL,
  note text,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  last_used_at timestamptz
);
CREATE INDEX worker_credentials_principal_idx ON worker_credentials (principal);

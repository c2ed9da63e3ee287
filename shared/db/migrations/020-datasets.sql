-- Registered datasets. The manifest file under AIMINO_DATA_ROOT is what viewers read; this table is the
-- index every instance shares (listing, ownership, conflict checks).
CREATE TABLE datasets (
  dataset_id text PRIMARY KEY CHECK (dataset_id ~ '^[a-z0-9_-]+$'),
  owner text NOT NULL,
  manifest jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX datasets_owner_idx ON datasets (owner, dataset_id);

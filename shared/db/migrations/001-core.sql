-- Core tables shared by every function. Later migrations are numbered by owner:
-- 010-019 auth/presign, 020-029 datasets, 030-039 events/ingest, 040-049 rescan, 050-059 jobs/workers.
CREATE TABLE IF NOT EXISTS sluice_meta (
  key text PRIMARY KEY,
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Rescan bookkeeping: one row per run, and the resume point per scope (bucket + prefix).
CREATE TABLE rescan_runs (
  id bigserial PRIMARY KEY,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  status text NOT NULL DEFAULT 'running'
    CHECK (status IN ('running', 'completed', 'partial', 'failed')),
  trigger text NOT NULL DEFAULT 'http',
  bucket text NOT NULL,
  prefix text NOT NULL,
  dry_run boolean NOT NULL DEFAULT false,
  resumed_from jsonb,
  checkpoint jsonb,
  full_pass boolean NOT NULL DEFAULT false,
  listed bigint NOT NULL DEFAULT 0,
  missing bigint NOT NULL DEFAULT 0,
  ingested bigint NOT NULL DEFAULT 0,
  failed bigint NOT NULL DEFAULT 0,
  retried bigint NOT NULL DEFAULT 0,
  reclaimed bigint NOT NULL DEFAULT 0,
  error text
);
CREATE INDEX rescan_runs_started_idx ON rescan_runs (started_at DESC);

CREATE TABLE rescan_checkpoints (
  scope text PRIMARY KEY,
  checkpoint jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

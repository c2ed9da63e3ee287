-- One row per (bucket, key, version): the ingest of one object version, whatever the delivery does.
CREATE TABLE ingest_jobs (
  id bigserial PRIMARY KEY,
  bucket text NOT NULL,
  key text NOT NULL,
  -- ETag, or versionId when the bucket is versioned: identifies the content that was ingested.
  etag text NOT NULL,
  version_id text,
  size bigint,
  status text NOT NULL DEFAULT 'queued'
    CHECK (status IN ('queued', 'running', 'done', 'failed', 'source_deleted')),
  failure_kind text CHECK (failure_kind IN ('transient', 'permanent')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  lease_owner text,
  lease_expires_at timestamptz,
  pipeline text,
  tables jsonb NOT NULL DEFAULT '[]'::jsonb,
  rows bigint,
  bytes bigint,
  error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  duration_ms integer,
  UNIQUE (bucket, key, etag)
);
CREATE INDEX ingest_jobs_key_idx ON ingest_jobs (bucket, key, id DESC);
CREATE INDEX ingest_jobs_status_idx ON ingest_jobs (status, next_attempt_at);
CREATE INDEX ingest_jobs_lease_idx ON ingest_jobs (lease_expires_at) WHERE status = 'running';

-- Which object owns which job_<stem> table name: a second key with the same stem gets a suffix.
CREATE TABLE ingest_table_names (
  table_name text PRIMARY KEY,
  bucket text NOT NULL,
  key text NOT NULL,
  dataset_path text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (bucket, key, dataset_path)
);

-- Catalog of every table an ingest wrote (several datasets per file -> several tables).
CREATE TABLE ingest_catalog (
  job_id bigint NOT NULL REFERENCES ingest_jobs (id) ON DELETE CASCADE,
  dataset_path text NOT NULL,
  table_name text NOT NULL,
  rows bigint NOT NULL,
  columns jsonb NOT NULL,
  skipped jsonb NOT NULL DEFAULT '[]'::jsonb,
  PRIMARY KEY (job_id, dataset_path)
);

-- Per-job energy figures from Slurm acct_gather_profile files (the `profile` pipeline).
CREATE TABLE job_summaries (
  table_name text PRIMARY KEY,
  job_id bigint REFERENCES ingest_jobs (id) ON DELETE SET NULL,
  bucket text NOT NULL,
  key text NOT NULL,
  node text,
  energy_to_solution_j double precision,
  time_to_solution_s double precision,
  average_power_w double precision,
  peak_power_w double precision,
  peak_power_time_s double precision,
  energy_delay_product double precision,
  rows bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

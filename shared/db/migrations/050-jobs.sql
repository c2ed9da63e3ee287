-- Compute jobs routed to workers by the storage backends they mount.
CREATE TABLE workers (
  worker_id text PRIMARY KEY CHECK (worker_id ~ '^[A-Za-z0-9._:-]{1,128}$'),
  principal text NOT NULL,
  storage_backends text[] NOT NULL DEFAULT '{}',
  gpu boolean NOT NULL DEFAULT false,
  labels jsonb NOT NULL DEFAULT '{}'::jsonb,
  last_seen timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
  id bigserial PRIMARY KEY,
  kind text NOT NULL,
  owner text NOT NULL,
  user_subdir text NOT NULL,
  storage_backend text NOT NULL,
  input_file text NOT NULL,
  output_dir text NOT NULL,
  params jsonb NOT NULL DEFAULT '{}'::jsonb,
  status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
  mode text CHECK (mode IN ('direct', 'transfer')),
  worker_id text,
  attempts integer NOT NULL DEFAULT 0,
  lease_expires_at timestamptz,
  output_path text,
  error_code text,
  error text,
  transfer jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_queue_idx ON jobs (status, storage_backend, id);
CREATE INDEX jobs_owner_idx ON jobs (owner, id DESC);

-- Multipart uploads Sluice planned, and the parts clients reported: MinIO's ListParts can come back
-- empty, so resuming must not depend on it alone.
CREATE TABLE uploads (
  upload_id text PRIMARY KEY,
  bucket text NOT NULL,
  key text NOT NULL,
  owner text NOT NULL,
  size bigint NOT NULL,
  part_size bigint NOT NULL,
  part_count integer NOT NULL,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'completed', 'aborted')),
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);

CREATE TABLE upload_parts (
  upload_id text NOT NULL REFERENCES uploads (upload_id) ON DELETE CASCADE,
  part_number integer NOT NULL,
  etag text NOT NULL,
  size bigint,
  reported_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (upload_id, part_number)
);

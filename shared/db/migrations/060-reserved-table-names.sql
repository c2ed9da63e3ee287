-- User tables may no longer take the name of a Sluice table (an object `summaries.h5` used to claim
-- `job_summaries` and publish over Sluice's own summary table). Databases that already hold such a claim
-- are repaired here: the claim moves to `job_summaries_<hash>`, the name the code now gives that key
-- (first 8 hex digits of sha256('<bucket>/<key>')), the user's data is renamed to it if it had replaced
-- the system table, catalog and job rows follow, and `job_summaries` is created again when it was lost.
DO $$
DECLARE
  claim record;
  fresh text;
  is_system boolean;
BEGIN
  FOR claim IN
    SELECT table_name, bucket, key, dataset_path FROM ingest_table_names
    WHERE table_name = 'job_summaries'
  LOOP
    fresh := 'job_summaries_'
      || substr(encode(sha256(convert_to(claim.bucket || '/' || claim.key, 'UTF8')), 'hex'), 1, 8);
    -- The system table has these columns; a user's table under its name almost surely does not.
    SELECT count(*) = 2 INTO is_system FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = 'job_summaries'
        AND column_name IN ('energy_to_solution_j', 'energy_delay_product');
    IF to_regclass('job_summaries') IS NOT NULL AND NOT is_system THEN
      EXECUTE format('DROP TABLE IF EXISTS %I', fresh);
      EXECUTE format('ALTER TABLE job_summaries RENAME TO %I', fresh);
    END IF;
    UPDATE ingest_table_names SET table_name = fresh
      WHERE table_name = claim.table_name AND bucket = claim.bucket AND key = claim.key
        AND dataset_path = claim.dataset_path;
    UPDATE ingest_catalog SET table_name = fresh WHERE table_name = 'job_summaries';
    UPDATE ingest_jobs SET tables = (
        SELECT jsonb_agg(CASE WHEN t ->> 'table' = 'job_summaries'
                              THEN jsonb_set(t, '{table}', to_jsonb(fresh)) ELSE t END)
        FROM jsonb_array_elements(tables) AS t)
      WHERE tables @> '[{"table": "job_summaries"}]'::jsonb;
  END LOOP;
END
$$;

-- Recreated (as in 030) when a user's file had replaced it or delete-with-drop had dropped it.
CREATE TABLE IF NOT EXISTS job_summaries (
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

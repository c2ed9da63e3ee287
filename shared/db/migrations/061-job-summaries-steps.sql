-- Profile summaries per Slurm step and per node (issue 20): a file now gives several rows, one 'job'
-- row per step (energy summed over its nodes) and one 'node' row per node. Energy is NULL when the
-- profile has no power or energy data, and energy_reason says why. Rows written before this migration
-- were whole-file figures: they become 'job' rows with no step, unchanged.
ALTER TABLE job_summaries DROP CONSTRAINT job_summaries_pkey;
ALTER TABLE job_summaries
  ADD COLUMN id bigserial PRIMARY KEY,
  ADD COLUMN scope text NOT NULL DEFAULT 'job' CHECK (scope IN ('job', 'node')),
  ADD COLUMN step text,
  ADD COLUMN nodes integer,
  ADD COLUMN energy_reason text;
UPDATE job_summaries SET energy_reason = 'unknown (recorded before migration 061)'
  WHERE energy_to_solution_j IS NULL;
ALTER TABLE job_summaries
  ADD CONSTRAINT job_summaries_energy_or_reason
  CHECK (energy_to_solution_j IS NOT NULL OR energy_reason IS NOT NULL);
CREATE UNIQUE INDEX job_summaries_row ON job_summaries
  (table_name, scope, coalesce(step, ''), coalesce(node, ''));
CREATE INDEX job_summaries_job ON job_summaries (job_id);

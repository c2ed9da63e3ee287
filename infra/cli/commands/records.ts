import type { Command } from 'commander';
import { apiClient } from '../lib/api.ts';

type Row = Record<string, unknown>;
const table = (rows: Row[], cols: string[]) =>
  rows.length === 0
    ? '(none)'
    : [cols.join('\t'), ...rows.map((r) => cols.map((c) => String(r[c] ?? '')).join('\t'))].join(
        '\n',
      );

/** `sluice register`, `sluice datasets ls|show|verify`, `sluice jobs ls|show`. */
export function register(program: Command): void {
  program
    .command('register')
    .description(
      'register an image and an AnnData file in place (server paths, or --backend with logical paths)',
    )
    .argument('<image>')
    .argument('<h5ad>')
    .option(
      '--backend <name>',
      'storage backend: image and h5ad are then relative to your directory in it',
    )
    .option('--id <dataset_id>')
    .option('--preview <path>')
    .option('--copy', 'copy the files into the data root')
    .option('--marker <col...>', 'marker columns that must exist in obs/var')
    .option('--overwrite', 'replace a registration of other files under the same id')
    .action(
      async (
        image: string,
        h5ad: string,
        o: {
          backend?: string;
          id?: string;
          preview?: string;
          copy?: boolean;
          marker?: string[];
          overwrite?: boolean;
        },
      ) => {
        const api = apiClient(program);
        const common = {
          dataset_id: o.id,
          copy_files: o.copy ?? false,
          marker_cols: o.marker ?? [],
          overwrite: o.overwrite ?? false,
        };
        const body = o.backend
          ? { storage_backend: o.backend, image, h5ad, preview: o.preview, ...common }
          : { image_path: image, h5ad_path: h5ad, preview_path: o.preview, ...common };
        const out = await api.call<{
          manifest: { dataset_id: string; viewer: { autoload: boolean; autoload_reason: string } };
        }>('POST', '/api/v1/datasets/register', body);
        api.print(
          out,
          () =>
            `${out.manifest.dataset_id}: registered (auto-load ${out.manifest.viewer.autoload ? 'on' : 'off'}: ${out.manifest.viewer.autoload_reason})`,
        );
      },
    );

  const datasets = program.command('datasets').description('registered datasets');
  datasets.command('ls').action(async () => {
    const api = apiClient(program);
    const out = await api.call<{ datasets: Row[] }>('GET', '/api/v1/datasets?limit=500');
    api.print(out.datasets, () =>
      table(
        out.datasets.map((d) => ({ ...d, autoload: (d.viewer as Row).autoload })),
        ['dataset_id', 'owner', 'autoload', 'created_at'],
      ),
    );
  });
  datasets
    .command('show')
    .argument('<id>')
    .action(async (id: string) => {
      const api = apiClient(program);
      const out = await api.call('GET', `/api/v1/datasets/${encodeURIComponent(id)}`);
      api.print(out, () => JSON.stringify(out, null, 2));
    });
  datasets
    .command('verify')
    .argument('<id>')
    .action(async (id: string) => {
      const api = apiClient(program);
      const out = await api.call<{ status: string; sources: Record<string, { state: string }> }>(
        'POST',
        `/api/v1/datasets/${encodeURIComponent(id)}/verify`,
      );
      api.print(out, () =>
        [
          `${id}: ${out.status}`,
          ...Object.entries(out.sources).map(([role, s]) => `  ${role}: ${s.state}`),
        ].join('\n'),
      );
      if (out.status !== 'ok') process.exitCode = 1;
    });

  const jobs = program.command('jobs').description('compute jobs');
  jobs
    .command('ls')
    .option('--status <status>')
    .action(async (o: { status?: string }) => {
      const api = apiClient(program);
      const out = await api.call<{ jobs: Row[] }>(
        'GET',
        `/api/v1/jobs${o.status ? `?status=${o.status}` : ''}`,
      );
      api.print(out.jobs, () =>
        table(out.jobs, ['id', 'kind', 'status', 'storageBackend', 'inputFile', 'workerId']),
      );
    });
  jobs
    .command('show')
    .argument('<id>')
    .action(async (id: string) => {
      const api = apiClient(program);
      const out = await api.call('GET', `/api/v1/jobs/${encodeURIComponent(id)}`);
      api.print(out, () => JSON.stringify(out, null, 2));
    });
}

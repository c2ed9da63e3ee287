/** @jsxImportSource hono/jsx */
import type { Child, FC } from 'hono/jsx';

export interface StatusData {
  generatedAt: string;
  ingests: {
    id: number;
    key: string;
    status: string;
    tables: { table: string }[];
    rows: number | null;
    durationMs: number | null;
    error: string | null;
  }[];
  /** Slurm profile figures, one row per step ('job' scope) of recent profile ingests. */
  energy: {
    table: string;
    step: string | null;
    node: string;
    energyJ: number | null;
    timeS: number;
    peakPowerW: number | null;
    energyReason: string | null;
  }[];
  datasets: {
    dataset_id: string;
    owner: string;
    autoload: boolean;
    exceeds16k: boolean;
    preview: string | null;
  }[];
  rescans: {
    id: number;
    startedAt: string;
    status: string;
    listed: number;
    missing: number;
    ingested: number;
    failed: number;
  }[];
  workers: { workerId: string; storageBackends: string[]; live: boolean; lastSeen: string }[];
  refreshS: number;
}

const Section: FC<{ title: string; empty: boolean; id: string; children?: Child }> = ({
  title,
  empty,
  id,
  children,
}) => (
  <section id={id}>
    <h2>{title}</h2>
    {empty ? <p class="empty">no data yet</p> : children}
  </section>
);

/** The read-only status page: recent ingests, datasets, rescans and workers. */
export const StatusPage: FC<{ data: StatusData }> = ({ data }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta http-equiv="refresh" content={String(data.refreshS)} />
      <title>Sluice status</title>
      <style>{`body{font:14px system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;width:100%;margin-bottom:1rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left}th{background:#f3f4f6}.failed{color:#b91c1c}
.done{color:#15803d}.running,.in_progress,.queued{color:#b45309}.empty{color:#777}`}</style>
    </head>
    <body>
      <h1>Sluice status</h1>
      <p>
        generated {data.generatedAt}; refreshes every {data.refreshS} s
      </p>
      <Section title="Recent ingest jobs" id="ingests" empty={data.ingests.length === 0}>
        <table id="ingest-jobs">
          <thead>
            <tr>
              <th>id</th>
              <th>object</th>
              <th>status</th>
              <th>tables</th>
              <th>rows</th>
              <th>duration</th>
              <th>error</th>
            </tr>
          </thead>
          <tbody>
            {data.ingests.map((j) => (
              <tr>
                <td>{j.id}</td>
                <td>{j.key}</td>
                <td class={j.status}>{j.status}</td>
                <td>{j.tables.map((t) => t.table).join(', ')}</td>
                <td>{j.rows ?? ''}</td>
                <td>{j.durationMs === null ? '' : `${j.durationMs} ms`}</td>
                <td class="failed">{j.error ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section
        title="Energy (Slurm profiles, per step)"
        id="energy"
        empty={data.energy.length === 0}
      >
        <table id="energy-summaries">
          <thead>
            <tr>
              <th>table</th>
              <th>step</th>
              <th>nodes</th>
              <th>energy</th>
              <th>time</th>
              <th>peak power</th>
            </tr>
          </thead>
          <tbody>
            {data.energy.map((e) => (
              <tr>
                <td>{e.table}</td>
                <td>{e.step ?? ''}</td>
                <td>{e.node}</td>
                <td>
                  {e.energyJ === null ? `unknown: ${e.energyReason ?? ''}` : `${e.energyJ} J`}
                </td>
                <td>{`${e.timeS} s`}</td>
                <td>{e.peakPowerW === null ? '' : `${e.peakPowerW} W`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Datasets" id="datasets" empty={data.datasets.length === 0}>
        <table>
          <thead>
            <tr>
              <th>dataset</th>
              <th>owner</th>
              <th>auto-load</th>
              <th>over 16k px</th>
              <th>preview</th>
            </tr>
          </thead>
          <tbody>
            {data.datasets.map((d) => (
              <tr>
                <td>{d.dataset_id}</td>
                <td>{d.owner}</td>
                <td>{d.autoload ? 'yes' : 'no'}</td>
                <td>{d.exceeds16k ? 'yes' : 'no'}</td>
                <td>{d.preview ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Rescan runs" id="rescans" empty={data.rescans.length === 0}>
        <table>
          <thead>
            <tr>
              <th>run</th>
              <th>started</th>
              <th>status</th>
              <th>listed</th>
              <th>missing</th>
              <th>ingested</th>
              <th>failed</th>
            </tr>
          </thead>
          <tbody>
            {data.rescans.map((r) => (
              <tr>
                <td>{r.id}</td>
                <td>{r.startedAt}</td>
                <td class={r.status}>{r.status}</td>
                <td>{r.listed}</td>
                <td>{r.missing}</td>
                <td>{r.ingested}</td>
                <td>{r.failed}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Workers" id="workers" empty={data.workers.length === 0}>
        <table>
          <thead>
            <tr>
              <th>worker</th>
              <th>backends</th>
              <th>live</th>
              <th>last seen</th>
            </tr>
          </thead>
          <tbody>
            {data.workers.map((w) => (
              <tr>
                <td>{w.workerId}</td>
                <td>{w.storageBackends.join(', ')}</td>
                <td>{w.live ? 'yes' : 'no'}</td>
                <td>{w.lastSeen}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </body>
  </html>
);

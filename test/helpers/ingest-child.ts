// Runs one ingest in its own process, so a test can SIGKILL it midway. Argument: JSON of
// { env: Record<string,string>, ref: ObjectRef }.
import { parseConfig } from '../../shared/config/load.ts';
import { ingestObject } from '../../shared/ingest/ingest-object.ts';
import { silentLogger } from '../../shared/log/logger.ts';
import { createServices } from '../../shared/services.ts';

const { env, ref } = JSON.parse(process.argv[2] as string);
const services = createServices(parseConfig(env), { log: silentLogger });
const outcome = await ingestObject(services, ref);
process.stdout.write(`${JSON.stringify({ status: outcome.status })}\n`);
await services.close();

// Vercel (Node runtime) entry: the function chosen by SLUICE_FUNCTION as a Node request listener.
import { getRequestListener } from '@hono/node-server';
import type { VercelRequest, VercelResponse } from '@vercel/node';
import { getConfig } from '../../shared/config/load.ts';
import { createServices } from '../../shared/services.ts';
import { createApp } from '../registry.ts';

let listener: ReturnType<typeof getRequestListener> | undefined;

/** Builds the app on the first call of a warm instance and reuses it afterwards. */
export default function handler(req: VercelRequest, res: VercelResponse) {
  if (!listener) {
    const config = getConfig();
    listener = getRequestListener(createApp(config.function, createServices(config)).fetch);
  }
  return listener(req, res);
}

// Node entry for a container that serves the function named by SLUICE_FUNCTION (or all of them).
import { getConfig } from '../../shared/config/load.ts';
import { createApp } from '../registry.ts';
import { startNode } from './start-node.ts';

const fn = getConfig().function;
/** Resolves once listening (the bundle launcher waits for it; see infra/build/launcher.ts). */
export const ready = startNode(fn, (services) => createApp(fn, services));

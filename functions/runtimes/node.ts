// Node entry for a container that serves the function named by SLUICE_FUNCTION (or all of them).
import { getConfig } from '../../shared/config/load.ts';
import { createApp } from '../registry.ts';
import { startNode } from './start-node.ts';

const fn = getConfig().function;
await startNode(fn, (services) => createApp(fn, services));

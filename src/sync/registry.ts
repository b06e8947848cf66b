/**
 * The connectors this process was started with, for the ops API (which is built without them).
 * Set once at start-up; empty until then.
 */
import { ConnectorSet } from './connector.js';

let active = new ConnectorSet([]);

export function setActiveConnectors(connectors: ConnectorSet): void {
  active = connectors;
}

export function activeConnectors(): ConnectorSet {
  return active;
}

import type { AppConfig } from '../config.ts';

/**
 * A workflow's page in the Temporal Web UI: TEMPORAL_UI_URL (a cluster's UI), or the local dev
 * server's UI that `npm start` runs on KAMENG_TEMPORAL_UI_PORT. None when there is no UI.
 */
export function workflowUiUrl(config: Pick<AppConfig, 'observability' | 'temporal'>, workflowId: string): string | undefined {
  const ui = config.observability.temporalUiUrl;
  if (!ui || !workflowId) return undefined;
  return `${ui}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

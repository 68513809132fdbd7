import type { AppConfig } from '../src/config.ts';
import { workflowUiUrl } from '../src/observability/temporal-ui.ts';
import { html, type SafeHtml } from './html.ts';

/** A link to the workflow in the Temporal Web UI (new tab), or nothing when no UI is configured. */
export function temporalLink(config: AppConfig, workflowId: string | null | undefined, label: string): SafeHtml | string {
  const url = workflowId ? workflowUiUrl(config, workflowId) : undefined;
  return url ? html`<a class="temporal-ui" href="${url}" target="_blank" rel="noopener noreferrer" title="${workflowId}">${label}</a>` : '';
}

import { loadConfig } from '../../src/config.ts';
import { configureLogging } from '../../src/observability/log.ts';

// Tests log at warn unless KAMENG_LOG_LEVEL says otherwise: expected refusals (debug) and
// request lines (debug/info) stay out of the output, so a real failure stands out.
configureLogging({ level: loadConfig().observability.logLevel ?? 'warn' });

import { Command } from 'commander';
import { KamengError } from '../errors.ts';
import { startCommand } from './start.ts';
import { workerCommand } from './worker.ts';

const program = new Command()
  .name('kameng')
  .description('Kameng: settlement and reconciliation back office of a card union (卡盟)')
  .showHelpAfterError();

program
  .command('start')
  .description('Start PostgreSQL (embedded unless DATABASE_URL), Temporal (local dev server unless TEMPORAL_ADDRESS), the workers and the dashboard')
  .option('--no-demo', 'do not seed demo data')
  .action((opts: { demo: boolean }) => startCommand({ demo: opts.demo }));

program
  .command('worker')
  .description('Run workers only, against DATABASE_URL and TEMPORAL_ADDRESS (scale out by running more)')
  .option('--task-queues <list>', 'comma-separated task queues (default: all of them)')
  .action((opts: { taskQueues?: string }) => workerCommand(opts));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Typed errors are for people: say what is wrong, without a stack trace.
  if (err instanceof KamengError) {
    console.error(`kameng: ${err.message}`);
    process.exit(2);
  }
  throw err;
}

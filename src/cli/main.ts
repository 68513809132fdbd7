import { Command } from 'commander';
import { KamengError } from '../errors.ts';
import { startCommand } from './start.ts';

const program = new Command()
  .name('kameng')
  .description('Kameng: settlement and reconciliation back office of a card union (卡盟)')
  .showHelpAfterError();

program
  .command('start')
  .description('Start PostgreSQL (embedded unless DATABASE_URL), Temporal (local dev server unless TEMPORAL_ADDRESS), the workers and the dashboard')
  .option('--no-demo', 'do not seed demo data')
  .action((opts: { demo: boolean }) => startCommand({ demo: opts.demo }));

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

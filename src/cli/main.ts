import { Command } from 'commander';
import { KamengError, ValidationError } from '../errors.ts';
import { startCommand } from './start.ts';
import { workerCommand } from './worker.ts';
import { opsCommand, resendCallbackCommand, stuckCommand } from './ops.ts';
import { casesCommand, reconCommand, resolveCommand } from './recon.ts';
import { checkCommand } from './check.ts';
import { registerComplaintCommands } from './complaints.ts';
import { dbRolesCommand } from './db.ts';
import { userCommand } from './user.ts';
import { loginCommand, logoutCommand, whoamiCommand } from './login.ts';
import { adjustCommand, payoutsCommand, rebatesCommand, settleCommand, statementCommand } from './settle.ts';
import { importCodesCommand, procureCommand, qualificationsCommand, quarantineCommand, stockCommand } from './inventory.ts';
import { registerAdminCommands } from './admin.ts';
import { registerResellerAdminCommands } from './admin-resellers.ts';
import { registerOperationsCommands } from './operations.ts';
import { registerStatementProfileCommands } from './statement-profile.ts';
import { registerPortalCommands } from './portal.ts';

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

program
  .command('import-codes')
  .description('Import card codes (CSV or XLSX: sku,serial,code,expires_at or 商品编码,卡号,卡密,有效期) into stock, all or nothing')
  .requiredOption('--sku <code>', 'the SKU every row belongs to')
  .requiredOption('--file <path>', 'the CSV or XLSX file')
  .requiredOption('--unit-cost <yuan>', 'cost per code in yuan, e.g. 94.00')
  .option('--supplier <code>', 'the supplier that delivered the file')
  .option('--batch-key <key>', 'idempotency key (default: file:<file name>)')
  .option('--counter-account <account>', 'without --supplier: what the stock is booked against (platform_cash or adjustments)')
  .option('--reason <text>', 'without --supplier: why this stock comes in (audit)')
  .action(importCodesCommand);

program
  .command('quarantine')
  .description('Card codes suppliers delivered that were not stocked (duplicate, already received, expired), with the claim')
  .option('--page <n>', 'page', '1')
  .action(quarantineCommand);

program.command('stock').description('Available card codes per SKU against the low-stock threshold').action(stockCommand);

program
  .command('qualifications')
  .description('Supplier licences and brand authorisations (资质) expiring soon')
  .option('--within <days>', 'days ahead', '30')
  .action(qualificationsCommand);

program
  .command('procure')
  .description('Buy a batch of card codes now (procureStock workflow) and wait for it')
  .requiredOption('--sku <code>', 'card SKU')
  .option('--quantity <n>', 'codes to buy (default: the SKU batch size)')
  .action(procureCommand);

program
  .command('stuck')
  .description('Stuck direct top-ups waiting for ops (--all: every open top-up)')
  .option('--all', 'include processing ones')
  .option('--page <n>', 'page', '1')
  .action(stuckCommand);

program
  .command('ops')
  .description('Act on a stuck top-up: retry | switch --supplier S | succeed --reference R | refund (audited, as the logged-in ops user)')
  .argument('<action>', 'retry, switch, succeed or refund')
  .requiredOption('--order <n>', 'order number')
  .requiredOption('--reason <text>', 'why')
  .option('--supplier <code>', 'for switch: the supplier to try')
  .option('--reference <ref>', "for succeed: the supplier's transaction reference")
  .option('--force', 'for succeed: even though the supplier reported the top-up FAILED (say why in --reason)')
  .action(opsCommand);

program
  .command('callbacks')
  .description("Re-send a final top-up's reseller callback that was never taken: callbacks resend --order N (audited)")
  .argument('<what>', 'resend')
  .requiredOption('--order <n>', 'order number')
  .requiredOption('--reason <text>', 'why')
  .action((what: string, options: { order: string; reason: string }) => {
    if (what !== 'resend') throw new Error(`unknown callbacks command ${what}: resend`);
    return resendCallbackCommand(options);
  });

program
  .command('recon')
  .description('对账: reconcile a supplier\'s statement for a business date (fetched from the supplier, or --file), with a summary per class')
  .requiredOption('--supplier <code>', 'supplier code')
  .option('--date <YYYY-MM-DD>', 'business date, Asia/Shanghai (default: yesterday)')
  .option('--file <path>', 'the statement file (CSV in UTF-8 or GBK, or XLSX) instead of fetching it')
  .option('--export <file.xlsx>', 'also write the day\'s discrepancy cases to an XLSX file')
  .action(reconCommand);

program
  .command('cases')
  .description('Reconciliation discrepancy cases (default: unresolved), filtered and paginated, or exported to XLSX')
  .option('--supplier <code>', 'supplier code')
  .option('--date <YYYY-MM-DD>', 'business date')
  .option('--state <state>', 'open | investigating | resolved | unresolved', 'unresolved')
  .option('--class <class>', 'amount_mismatch | status_mismatch | missing_at_supplier | missing_in_ours | duplicate_at_supplier')
  .option('--page <n>', 'page', '1')
  .option('--export <file.xlsx>', 'write every matching case to an XLSX file instead')
  .action(casesCommand);

program
  .command('resolve')
  .description('Resolve a discrepancy case: accept_supplier | accept_ours | write_off | carry_forward (audited, idempotent, as the logged-in finance user)')
  .argument('<case>', 'case number')
  .requiredOption('--resolution <r>', 'accept_supplier, accept_ours, write_off or carry_forward')
  .requiredOption('--reason <text>', 'why')
  .action(resolveCommand);

program
  .command('settle')
  .description('结算: settle resellers through a business date (every unsettled day up to it), by the settlement workflow')
  .option('--date <YYYY-MM-DD>', 'business date, Asia/Shanghai (default: yesterday)')
  .action(settleCommand);

program
  .command('statement')
  .description("A reseller's statement over settled days (--reseller R --from D1 --to D2), or every reseller's statement of a day (--date D), to XLSX or CSV")
  .option('--reseller <code>', 'reseller code')
  .option('--from <YYYY-MM-DD>', 'first settled day (default: --to)')
  .option('--to <YYYY-MM-DD>', 'last settled day (default: yesterday)')
  .option('--date <YYYY-MM-DD>', 'one settled day (the summary workbook when no --reseller)')
  .option('--format <xlsx|csv>', 'file format', 'xlsx')
  .option('--out <file>', 'output file (default: statement-<reseller>-<from>-<to>.<format>)')
  .action(statementCommand);

program
  .command('payouts')
  .description('Supplier payouts: list | show | draft [--from --to --supplier S] | approve | paid --reference R | failed --reason | cancel | export (--batch N)')
  .argument('<action>', 'list, show, draft, approve, paid, failed, cancel or export')
  .option('--batch <n>', 'payout batch number')
  .option('--from <YYYY-MM-DD>', 'draft: period start (default: first of the month of --to)')
  .option('--to <YYYY-MM-DD>', 'draft: period end (default: yesterday)')
  .option('--supplier <code...>', 'draft: only these suppliers')
  .option('--reference <bank ref>', 'paid: the bank reference')
  .option('--reason <text>', 'failed / cancel: why')
  .option('--format <xlsx|csv>', 'export format', 'xlsx')
  .option('--out <file>', 'export file')
  .option('--for-bank', 'export: the file sent to the bank, with full account numbers (an approved batch; finance)')
  .option('--page <n>', 'list page', '1')
  .action(payoutsCommand);

program
  .command('rebates')
  .description('Monthly volume rebates: rules [--tier T --brackets "0:1%,5000:2.5%"] | award --month YYYY-MM | show --month YYYY-MM')
  .argument('<action>', 'rules, award or show')
  .option('--tier <tier>', 'default, silver or gold')
  .option('--brackets <list>', 'marginal brackets: <from yuan>:<rate>%, comma-separated')
  .option('--month <YYYY-MM>', 'month')
  .action(rebatesCommand);

program
  .command('adjust')
  .description("Adjust a reseller's wallet (positive credits it), audited and idempotent by reference")
  .requiredOption('--reseller <code>', 'reseller code')
  .requiredOption('--amount <yuan>', 'e.g. 12.50 or -3.00')
  .requiredOption('--reference <ref>', 'idempotency reference, e.g. the complaint number')
  .requiredOption('--reason <text>', 'why')
  .action(adjustCommand);

program
  .command('check')
  .description('Invariant checker: balanced entries, guarded balances, wallets, card codes, order outcomes, reconciliation classes, statement identity; exits 1 on any violation')
  .action(checkCommand);

program
  .command('db')
  .description('Database roles: `db roles --print` (SQL for a DATABASE_URL deployment: owner and application roles, grants) or `db roles --apply` (re-apply the grants as the owner)')
  .argument('<what>', 'roles')
  .option('--print', 'print the SQL (no passwords)')
  .option('--apply', "apply the application role's grants as the owner (DATABASE_OWNER_URL, or the embedded superuser)")
  .option('--app-role <name>', 'the application role (default: DATABASE_URL\'s, or kameng_app)')
  .option('--owner-role <name>', 'the owner role, for --print (default: DATABASE_OWNER_URL\'s, or kameng_owner)')
  .option('--database <name>', 'the database, for --print (default: DATABASE_URL\'s, or kameng)')
  .action((what: string, opts: { print?: boolean; apply?: boolean; appRole?: string; ownerRole?: string; database?: string }) => {
    if (what !== 'roles') throw new ValidationError(`unknown \`kameng db ${what}\`: roles`);
    return dbRolesCommand(opts);
  });

program
  .command('user')
  .description('Users (dashboard and CLI): add --username U --role admin|finance|ops|viewer|compliance [--password P] (an existing user gets the new role and password) | disable | enable --username U --reason R | list | reset-password --username U --reason R [--password P] | set-role --username U --role R --reason R; an admin, logged in (add: anyone while no admin is active)')
  .argument('<action>', 'add, disable, enable, list, reset-password or set-role')
  .option('--username <name>', 'login name')
  .option('--role <role>', 'add or set-role: admin, finance, ops, viewer or compliance')
  .option('--password <p>', 'add: at least 10 characters (default: generated and shown once)')
  .option('--name <display name>', 'add: shown in the dashboard')
  .option('--reason <text>', 'disable / enable: why (audited)')
  .action(userCommand);

registerAdminCommands(program);

program
  .command('login')
  .description('Log in as a user: every audited or money-moving command then acts as you (an expiring token, kept 0600 in $XDG_CONFIG_HOME/kameng or ~/.config/kameng)')
  .option('--username <name>', 'login name (default: asked)')
  .option('--password-stdin', 'read the password from stdin (scripts) instead of asking without echo')
  .action(loginCommand);

program.command('logout').description('End the CLI session: the token stops working and its file is removed').action(logoutCommand);
registerResellerAdminCommands(program);

program.command('whoami').description('Who the CLI acts as (checked against the database)').action(whoamiCommand);
registerStatementProfileCommands(program);

registerComplaintCommands(program);
registerOperationsCommands(program);
registerPortalCommands(program);

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

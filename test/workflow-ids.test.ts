import { describe, expect, it } from 'vitest';
import { opsActionUpdate, supplierResultSignal, topUpStateQuery, topUpWorkflowId } from '../workflows/fulfill-topup.ts';
import { procurementWorkflowId } from '../workflows/procurement.ts';
import { reconciliationWorkflowId, uploadStatementSignal } from '../workflows/reconciliation.ts';
import { settlementWorkflowId } from '../workflows/settlement.ts';

/**
 * Running workflows and their histories are found by these ids and names: a change strands every
 * workflow started before the deploy. Callers import them from beside their workflow; this pins the values.
 */
describe('workflow ids, signals, updates and queries keep their values', () => {
  it('ids', () => {
    expect(topUpWorkflowId(42)).toBe('topup-42');
    expect(procurementWorkflowId('QQ-100')).toBe('procure-QQ-100');
    expect(reconciliationWorkflowId('sup-a', '2026-11-30')).toBe('recon-sup-a-2026-11-30');
    expect(settlementWorkflowId('2026-11-30')).toBe('settle-2026-11-30');
  });

  it('signals, updates and queries', () => {
    expect(supplierResultSignal.name).toBe('supplierResult');
    expect(opsActionUpdate.name).toBe('opsAction');
    expect(topUpStateQuery.name).toBe('state');
    expect(uploadStatementSignal.name).toBe('uploadStatement');
  });
});

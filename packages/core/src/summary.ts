import * as Y from 'yjs';
import { computeStock, owedUnderOverride } from './ledger.js';

/** A replica's whole view of one SKU, compact enough to compare replicas by value. */
export interface LedgerSummary {
  /** Σp: units added. */
  readonly added: number;
  /** Σn: units committed (sold, shipped, reserved). */
  readonly committed: number;
  /** added - committed. */
  readonly value: number;
  /** Rights of every account the document names. */
  readonly rights: Readonly<Record<string, number>>;
  /** The Yjs state vector, base64: equal vectors mean the replicas hold the same operations. */
  readonly stateVector: string;
  /** Store accounts owing units under the manager override (o - c), only those owing any. */
  readonly owed: Readonly<Record<string, number>>;
}

/** Summarizes a SKU document: what a checker compares across replicas after a heal. */
export function ledgerSummary(doc: Y.Doc): LedgerSummary {
  const view = computeStock(doc);
  const rights: Record<string, number> = {};
  const owed: Record<string, number> = {};
  for (const [account, totals] of Object.entries(view.accounts)) {
    rights[account] = totals.rights;
    const allowance = owedUnderOverride(view, account);
    if (allowance > 0) owed[account] = allowance;
  }
  return {
    added: view.added,
    committed: view.committed,
    value: view.value,
    rights,
    stateVector: toBase64(Y.encodeStateVector(doc)),
    owed,
  };
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

import { KeyIdSchema, StoreIdSchema, type KeyId, type StoreId, type StoreTokenClaims } from '@shelfsync/protocol';
import { RecordStore, type StorageAdapter } from '@shelfsync/storage';
import { z } from 'zod';
import { keyIdOf, verifyStoreToken, type KeyLookup, type TokenRefusal } from './token.js';

const KEY_PREFIX = ['auth', 'key'];
const NOT_BEFORE_PREFIX = ['auth', 'not-before'];

/**
 * One key of the set, as stored. A key added over the admin API keeps its
 * secret here, so every hub node sharing the records verifies with it; the key
 * given with --secret keeps only its state (retired or not), never the secret.
 */
const KeyRecordSchema = z.strictObject({
  kid: KeyIdSchema,
  source: z.enum(['config', 'added']),
  secret: z.string().min(16).optional(),
  state: z.enum(['active', 'retired']),
  addedAt: z.int().min(0),
  retiredAt: z.int().min(0).nullable(),
});
type KeyRecord = z.infer<typeof KeyRecordSchema>;

const NotBeforeSchema = z.strictObject({ storeId: StoreIdSchema, notBefore: z.int().min(0) });

/** A key as the admin API lists it: never its secret. */
export interface KeyInfo {
  readonly kid: KeyId;
  readonly source: 'config' | 'added';
  readonly state: 'active' | 'retired';
  readonly addedAt: number;
  readonly retiredAt: number | null;
  /** Whether this hub verifies tokens with it now (a --secret key of an earlier start does not: its secret is gone). */
  readonly verifies: boolean;
}

/** Why a store token is refused: a problem of the token itself, or its store revoked after it was issued. */
export type Refusal = TokenRefusal | 'revoked';

/**
 * The hub's store credentials: a key set (the --secret key plus keys added over
 * the admin API, each active or retired) and a per-store "not before" that
 * revokes every token issued earlier. Both live in the hub's durable records and
 * are read once at start; every change is written before it takes effect.
 */
export class Credentials {
  private readonly keysById = new Map<KeyId, KeyRecord>();
  private readonly notBefore = new Map<StoreId, number>();
  /** The change in progress, which the next one waits for. */
  private changing: Promise<void> = Promise.resolve();
  private readonly records: RecordStore;

  private constructor(
    adapter: StorageAdapter,
    private readonly configSecret: string,
    private readonly now: () => number,
  ) {
    this.records = new RecordStore(adapter);
  }

  static async open(adapter: StorageAdapter, configSecret: string, now: () => number = Date.now): Promise<Credentials> {
    const credentials = new Credentials(adapter, configSecret, now);
    const decoder = new TextDecoder();
    for (const chunk of await adapter.loadRange(KEY_PREFIX)) {
      const record = KeyRecordSchema.parse(JSON.parse(decoder.decode(chunk.data)));
      credentials.keysById.set(record.kid, record);
    }
    for (const chunk of await adapter.loadRange(NOT_BEFORE_PREFIX)) {
      const record = NotBeforeSchema.parse(JSON.parse(decoder.decode(chunk.data)));
      credentials.notBefore.set(record.storeId, record.notBefore);
    }
    const kid = keyIdOf(configSecret);
    if (!credentials.keysById.has(kid)) {
      const record: KeyRecord = { kid, source: 'config', state: 'active', addedAt: now(), retiredAt: null };
      await credentials.records.put([...KEY_PREFIX, kid], record);
      credentials.keysById.set(kid, record);
    }
    return credentials;
  }

  /**
   * Reads the key set and revocations again, for changes another hub node on
   * the same records made: a key added or retired there, a store revoked there.
   * Changes only ever add keys, retire them or raise a not-before, so the
   * stored state wins where it says more. Resolves whether anything changed;
   * an unreadable record is skipped (it was written by a newer hub, or damaged).
   */
  reload(): Promise<boolean> {
    return this.serialized(async () => {
      let changed = false;
      for (const record of await this.records.range(KEY_PREFIX, KeyRecordSchema)) {
        const known = this.keysById.get(record.kid);
        if (known !== undefined && (known.state === 'retired' || record.state === 'active')) continue;
        this.keysById.set(record.kid, record);
        changed = true;
      }
      for (const record of await this.records.range(NOT_BEFORE_PREFIX, NotBeforeSchema)) {
        if (record.notBefore <= (this.notBefore.get(record.storeId) ?? -1)) continue;
        this.notBefore.set(record.storeId, record.notBefore);
        changed = true;
      }
      return changed;
    });
  }

  /** The key id of the --secret key. */
  get configKeyId(): KeyId {
    return keyIdOf(this.configSecret);
  }

  /** A store token's claims if it is valid now: signed by an active key, unexpired, issued after any revocation. */
  verify(token: string, nowMs = this.now()): { ok: true; claims: StoreTokenClaims } | { ok: false; reason: Refusal } {
    const verified = verifyStoreToken(token, (kid) => this.secretOf(kid), nowMs);
    if (!verified.ok) return verified;
    return this.stillValid(verified.claims) ? verified : { ok: false, reason: 'revoked' };
  }

  /** Whether a session's claims still hold (its key active, its store not revoked since); expiry is timed apart. */
  stillValid(claims: StoreTokenClaims): boolean {
    if (this.secretOf(claims.kid)?.state !== 'active') return false;
    const notBefore = this.notBefore.get(claims.sub);
    return notBefore === undefined || claims.iat * 1000 > notBefore;
  }

  keys(): KeyInfo[] {
    return [...this.keysById.values()].map((record) => this.info(record));
  }

  /** Adds an active key (or reactivates nothing: a retired key stays retired). */
  addKey(secret: string): Promise<{ key: KeyInfo; created: boolean }> {
    return this.serialized(() => this.addKeyNow(secret));
  }

  private async addKeyNow(secret: string): Promise<{ key: KeyInfo; created: boolean }> {
    const kid = keyIdOf(secret);
    const known = this.keysById.get(kid);
    if (known !== undefined) return { key: this.info(known), created: false };
    const record: KeyRecord = { kid, source: 'added', secret, state: 'active', addedAt: this.now(), retiredAt: null };
    await this.records.put([...KEY_PREFIX, kid], record);
    this.keysById.set(kid, record);
    return { key: this.info(record), created: true };
  }

  /**
   * Retires a key for good: tokens it signed are refused from now on. Undefined
   * for an unknown key; refused (an Error) for the last active one, which would
   * lock every store out.
   */
  retireKey(kid: KeyId): Promise<KeyInfo | undefined> {
    return this.serialized(() => this.retireKeyNow(kid));
  }

  private async retireKeyNow(kid: KeyId): Promise<KeyInfo | undefined> {
    const known = this.keysById.get(kid);
    if (known === undefined) return undefined;
    if (known.state === 'retired') return this.info(known);
    if (![...this.keysById.values()].some((k) => k.kid !== kid && this.secretOf(k.kid)?.state === 'active')) {
      throw new LastActiveKeyError(`${kid} is the last active key: add its successor first (POST /v1/admin/keys)`);
    }
    // A retired key keeps no secret: nothing it signed can ever verify again.
    const { secret: _, ...rest } = known;
    const record: KeyRecord = { ...rest, state: 'retired', retiredAt: this.now() };
    await this.records.put([...KEY_PREFIX, kid], record);
    this.keysById.set(kid, record);
    return this.info(record);
  }

  /** Revokes every token of `storeId` issued until now; tokens issued after it work. Returns the not-before (ms). */
  revokeStore(storeId: StoreId): Promise<number> {
    return this.serialized(async () => {
      const notBefore = this.now();
      await this.records.put([...NOT_BEFORE_PREFIX, storeId], { storeId, notBefore });
      this.notBefore.set(storeId, notBefore);
      return notBefore;
    });
  }

  /**
   * Changes run one at a time: each judges on the state the last one left (two
   * retirements at once must not both pass the "last active key" check).
   */
  private serialized<T>(change: () => Promise<T>): Promise<T> {
    const run = this.changing.then(change, change);
    this.changing = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private secretOf(kid: KeyId): KeyLookup {
    const record = this.keysById.get(kid);
    if (record === undefined) return undefined;
    if (record.state === 'retired') return { state: 'retired' };
    const secret = record.source === 'added' ? record.secret : kid === this.configKeyId ? this.configSecret : undefined;
    // The --secret of an earlier start is unknown now: the hub no longer holds it.
    return secret === undefined ? undefined : { state: 'active', secret };
  }

  private info(record: KeyRecord): KeyInfo {
    const { kid, source, state, addedAt, retiredAt } = record;
    return { kid, source, state, addedAt, retiredAt, verifies: this.secretOf(kid)?.state === 'active' };
  }
}

/** Retiring the last active key is refused. */
export class LastActiveKeyError extends Error {
  override readonly name = 'LastActiveKeyError';
}

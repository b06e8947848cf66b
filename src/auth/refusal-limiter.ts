/**
 * Per-address limit on refused credentials, in this process's memory: a token bucket per client
 * address (client-address.ts) that each refusal takes from. An address that has used up its
 * bucket gets 429 for further refusals, with no database write at all (the journal counts them,
 * see failure-journal.ts). Valid credentials from the same address are still served: only
 * refusals are limited, so an attacker behind a shared NAT cannot lock out the identity provider.
 * In memory on purpose: the point is to spend nothing per refused request, and a shared bucket
 * in PostgreSQL (0352) would be one write per refusal again. Each process counts its own.
 */
export interface RefusalLimitSettings {
  /** Refusals per minute an address gets back; 0 switches the limit off. */
  perMinute: number;
  burst: number;
}

export const DEFAULT_REFUSAL_LIMIT: RefusalLimitSettings = { perMinute: 30, burst: 20 };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Buckets kept before full ones are dropped (a full bucket is the same as no bucket). */
const MAX_BUCKETS = 50_000;

export class RefusalLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly settings: RefusalLimitSettings = DEFAULT_REFUSAL_LIMIT) {}

  get enabled(): boolean {
    return this.settings.perMinute > 0;
  }

  /** Takes one refusal from the address's bucket: allowed, or how long until one is back. */
  take(address: string, now = Date.now()): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
    if (!this.enabled) return { allowed: true };
    const perMs = this.settings.perMinute / 60_000;
    const bucket = this.buckets.get(address) ?? { tokens: this.settings.burst, updatedAt: now };
    bucket.tokens = Math.min(this.settings.burst, bucket.tokens + (now - bucket.updatedAt) * perMs);
    bucket.updatedAt = now;
    if (this.buckets.size >= MAX_BUCKETS && !this.buckets.has(address)) this.dropFull(now);
    this.buckets.set(address, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000)) };
  }

  private dropFull(now: number): void {
    const perMs = this.settings.perMinute / 60_000;
    for (const [address, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.updatedAt) * perMs >= this.settings.burst) this.buckets.delete(address);
    }
    // Still full of active attackers: forget the oldest half rather than grow without bound.
    if (this.buckets.size >= MAX_BUCKETS) {
      let drop = this.buckets.size / 2;
      for (const address of this.buckets.keys()) {
        if (drop-- <= 0) break;
        this.buckets.delete(address);
      }
    }
  }
}

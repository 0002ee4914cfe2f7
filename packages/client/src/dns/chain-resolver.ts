import { AddressScores } from './address-scores.js';
import { DnsError, DnsErrorCode, abortReason, describeError } from './dns-errors.js';
import { eitherSignal, literalAnswer, normalizeHost, timeoutSignal, untilAborted } from './resolve-util.js';
import type { AddressReporter, ResolvedAddress, Resolver } from './types.js';

export interface ChainResolverOptions {
  /**
   * The poison check: two resolvers of the chain, the system resolver and HTTPDNS. When the
   * chain reaches either of them, both are asked at once (each once). If both answer and
   * share no address (within the families both returned), the system answer is taken for
   * polluted: `onMismatch` is called and the HTTPDNS answer is used, whatever the chain
   * order. Otherwise the chain goes on in order, reusing the two answers. The price is
   * waiting for the slower of the two.
   */
  crossCheck?: { system: Resolver; httpdns: Resolver };
  /** Told about each mismatch found by `crossCheck` (log it, count it, show it in a diagnosis). */
  onMismatch?: (host: string, system: ResolvedAddress[], httpdns: ResolvedAddress[]) => void;
  /**
   * Time each resolver gets before the chain moves on. The resolver gets the limit as its
   * signal too. Default 5 s.
   */
  stepTimeoutMs?: number;
  /** Orders every answer, best first. Default: a new `AddressScores`, reachable as `scores`. */
  scores?: AddressScores;
}

type Outcome = { ok: true; addresses: ResolvedAddress[] } | { ok: false; error: unknown };

/**
 * Asks resolvers in order (say HTTPDNS, then the system resolver, then the static IP list)
 * and answers with the first non-empty answer, ordered by address score. A resolver that
 * fails, answers empty or takes longer than `stepTimeoutMs` passes the host to the next.
 * Rejects with a `DnsError` when none answered: NOT_FOUND when all answered empty,
 * otherwise the failures as an `AggregateError` cause.
 *
 * The connector reports each connection outcome with `report(address, ok)`, so addresses
 * that work move to the front of later answers.
 */
export class ChainResolver implements Resolver, AddressReporter {
  readonly scores: AddressScores;
  readonly #resolvers: readonly Resolver[];
  readonly #crossCheck: { system: Resolver; httpdns: Resolver } | undefined;
  readonly #onMismatch: ChainResolverOptions['onMismatch'];
  readonly #stepTimeoutMs: number;

  constructor(resolvers: readonly Resolver[], options: ChainResolverOptions = {}) {
    if (resolvers.length === 0) throw new TypeError('ChainResolver needs at least one resolver');
    const check = options.crossCheck;
    if (check && !(resolvers.includes(check.system) && resolvers.includes(check.httpdns))) {
      throw new TypeError('crossCheck resolvers must be part of the chain');
    }
    this.#resolvers = resolvers.slice();
    this.#crossCheck = check;
    this.#onMismatch = options.onMismatch;
    this.#stepTimeoutMs = options.stepTimeoutMs ?? 5000;
    this.scores = options.scores ?? new AddressScores();
  }

  report(address: string, ok: boolean): void {
    this.scores.report(address, ok);
  }

  async resolve(host: string, signal?: AbortSignal): Promise<ResolvedAddress[]> {
    const literal = literalAnswer(host);
    if (literal) return literal;
    const name = normalizeHost(host);
    const outcomes = new Map<Resolver, Promise<Outcome>>();
    const ask = (r: Resolver): Promise<Outcome> => {
      let outcome = outcomes.get(r);
      if (!outcome) {
        outcome = this.#step(r, name, signal);
        outcomes.set(r, outcome);
      }
      return outcome;
    };

    const failures: unknown[] = [];
    for (const resolver of this.#resolvers) {
      const check = this.#crossCheck;
      if (check && (resolver === check.system || resolver === check.httpdns)) {
        const [system, httpdns] = await Promise.all([ask(check.system), ask(check.httpdns)]);
        if (signal?.aborted) throw abortReason(signal);
        if (system.ok && httpdns.ok && disjoint(system.addresses, httpdns.addresses)) {
          this.#onMismatch?.(name, system.addresses, httpdns.addresses);
          return this.scores.sort(httpdns.addresses);
        }
      }
      const outcome = await ask(resolver);
      if (signal?.aborted) throw abortReason(signal);
      if (outcome.ok && outcome.addresses.length > 0) return this.scores.sort(outcome.addresses);
      if (!outcome.ok) failures.push(outcome.error);
    }
    if (failures.length === 0) {
      throw new DnsError(DnsErrorCode.NOT_FOUND, name, `no address found for ${name}`);
    }
    const message = `could not resolve ${name}: ${failures.map(describeError).join('; ')}`;
    throw new DnsError(DnsErrorCode.LOOKUP_FAILED, name, message, { cause: new AggregateError(failures, message) });
  }

  /** One resolver's outcome, never rejecting: errors and timeouts become `{ ok: false }`. */
  async #step(resolver: Resolver, name: string, signal: AbortSignal | undefined): Promise<Outcome> {
    const timeout = timeoutSignal(this.#stepTimeoutMs);
    const combined = eitherSignal(signal, timeout);
    try {
      const addresses = await untilAborted(resolver.resolve(name, combined), combined);
      return { ok: true, addresses };
    } catch (err) {
      if (timeout.aborted && !signal?.aborted) {
        const error = new DnsError(
          DnsErrorCode.TIMEOUT,
          name,
          `no answer for ${name} within ${this.#stepTimeoutMs} ms`,
          {
            cause: err,
          },
        );
        return { ok: false, error };
      }
      return { ok: false, error: err };
    }
  }
}

/**
 * Whether two answers share no address in the families both returned. An answer with only
 * IPv6 says nothing about another with only IPv4, so that is no mismatch.
 */
function disjoint(a: readonly ResolvedAddress[], b: readonly ResolvedAddress[]): boolean {
  const families = new Set(a.map((x) => x.family));
  const comparable = b.filter((x) => families.has(x.family));
  if (comparable.length === 0) return false;
  const set = new Set(a.map((x) => x.address));
  return !comparable.some((x) => set.has(x.address));
}

import { describe, expect, it } from 'vitest';
import { CircuitBreaker, endpointKey } from '../../src/delivery/circuit-breaker.js';

function breaker(threshold = 3, cooldownMs = 1_000) {
  const clock = { now: 0 };
  return { clock, breaker: new CircuitBreaker({ threshold, cooldownMs }, () => clock.now) };
}

const E = 'tenant https://hooks.example.com';

describe('the webhook circuit breaker', () => {
  it('opens after N consecutive unreachable attempts, and an answer in between resets it', () => {
    const { breaker: b } = breaker(3);
    expect(b.record(E, 'unreachable', false)).toBe(false);
    expect(b.record(E, 'unreachable', false)).toBe(false);
    expect(b.record(E, 'answered', false)).toBe(false); // an HTTP 500 is an answer too
    expect(b.record(E, 'unreachable', false)).toBe(false);
    expect(b.record(E, 'unreachable', false)).toBe(false);
    // Refused by the URL policy: says nothing about the endpoint.
    expect(b.record(E, 'unknown', false)).toBe(false);
    expect(b.admit(E)).toEqual({ allowed: true, trial: false });
    expect(b.record(E, 'unreachable', false)).toBe(true);
    expect(b.admit(E)).toEqual({ allowed: false, failures: 3, retryInMs: 1_000 });
  });

  it('lets one trial through after the cool-down; its failure opens it again', () => {
    const { clock, breaker: b } = breaker(2, 1_000);
    b.record(E, 'unreachable', false);
    b.record(E, 'unreachable', false);
    clock.now = 400;
    expect(b.admit(E)).toEqual({ allowed: false, failures: 2, retryInMs: 600 });
    // A send that was already out when it opened fails late: counted, the wait is not extended.
    expect(b.record(E, 'unreachable', false)).toBe(false);
    expect(b.admit(E)).toMatchObject({ allowed: false, failures: 3, retryInMs: 600 });
    clock.now = 1_000;
    expect(b.admit(E)).toEqual({ allowed: true, trial: true });
    expect(b.admit(E)).toEqual({ allowed: false, failures: 3, retryInMs: 0 });
    expect(b.record(E, 'unreachable', true)).toBe(true);
    expect(b.admit(E)).toEqual({ allowed: false, failures: 4, retryInMs: 1_000 });
    clock.now = 2_000;
    expect(b.admit(E)).toEqual({ allowed: true, trial: true });
    // A trial that learned nothing frees the way for the next one.
    b.record(E, 'unknown', true);
    expect(b.admit(E)).toEqual({ allowed: true, trial: true });
    expect(b.record(E, 'answered', true)).toBe(false);
    expect(b.admit(E)).toEqual({ allowed: true, trial: false });
    expect(b.admit(E)).toEqual({ allowed: true, trial: false });
  });

  it('is off with a threshold of 0', () => {
    const { breaker: b } = breaker(0);
    for (let i = 0; i < 10; i += 1) expect(b.record(E, 'unreachable', false)).toBe(false);
    expect(b.admit(E)).toEqual({ allowed: true, trial: false });
  });

  it('keeps one breaker per tenant and origin (scheme, host, port)', () => {
    expect(endpointKey('t1', 'https://hooks.example.com/a?x=1')).toBe(
      endpointKey('t1', 'https://hooks.example.com:443/b'),
    );
    expect(endpointKey('t1', 'https://hooks.example.com/a')).not.toBe(
      endpointKey('t1', 'http://hooks.example.com/a'),
    );
    expect(endpointKey('t1', 'https://hooks.example.com/a')).not.toBe(
      endpointKey('t1', 'https://hooks.example.com:8443/a'),
    );
    // One tenant's hanging path on a shared host does not stop the others' deliveries there.
    expect(endpointKey('t1', 'https://hooks.example.com/a')).not.toBe(
      endpointKey('t2', 'https://hooks.example.com/a'),
    );
    expect(endpointKey('t1', 'not a url')).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { addressBudgetKey } from './client-address.js';

describe('addressBudgetKey', () => {
  it('keys IPv6 addresses by their /64, however they are written', () => {
    const key = addressBudgetKey('2001:db8:1:2::1');
    expect(key).toBe('2001:db8:1:2::/64');
    for (const same of [
      '2001:db8:1:2::beef',
      '2001:0db8:0001:0002:ffff:ffff:ffff:ffff',
      '2001:DB8:1:2:0:0:0:7',
      '2001:db8:1:2::1%eth0',
      '2001:db8:1:2::192.0.2.1',
    ]) {
      expect(addressBudgetKey(same), same).toBe(key);
    }
    for (const other of ['2001:db8:1:3::1', '2001:db8:1::1', '2001:db9:1:2::1', '::1']) {
      expect(addressBudgetKey(other), other).not.toBe(key);
    }
    expect(addressBudgetKey('::')).toBe('0:0:0:0::/64');
    expect(addressBudgetKey('fe80::1:2:3:4')).toBe('fe80:0:0:0::/64');
  });

  it('keeps IPv4 and IPv4-mapped IPv6 per address', () => {
    expect(addressBudgetKey('192.0.2.1')).toBe('192.0.2.1');
    expect(addressBudgetKey('192.0.2.2')).toBe('192.0.2.2');
    expect(addressBudgetKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressBudgetKey('::ffff:c000:201')).toBe('192.0.2.1');
    expect(addressBudgetKey('0:0:0:0:0:ffff:192.0.2.9')).toBe('192.0.2.9');
  });

  it('leaves anything that is no IP address as it is', () => {
    expect(addressBudgetKey('unknown')).toBe('unknown');
    expect(addressBudgetKey('2001:db8::1::2')).toBe('2001:db8::1::2');
  });
});

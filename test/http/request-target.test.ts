import { describe, expect, it } from 'vitest';
import { requestTarget } from '../../src/http/server.js';

describe('requestTarget', () => {
  // Whatever the shortcut takes must read exactly as URL parsing would.
  const targets = [
    '/graphql',
    '/graphql?',
    '/graphql?query=%7B__typename%7D&operationName=Q',
    '/graphql?tenant=acme&x=1+2',
    '/',
    '/.well-known/jwks.json',
    '/metrics/',
    '/graphql/../metrics',
    '/./graphql',
    '//graphql',
    '/gr%61phql',
    '/graphql?q="a b"',
    '/graphql?q=ä',
    '/graphql#frag',
    '*',
    '',
  ];
  it.each(targets)('reads %j as URL does', (raw) => {
    const expected = new URL(raw, 'http://localhost');
    const target = requestTarget(raw);
    expect({
      pathname: target.pathname,
      search: target.search,
      params: [...target.searchParams],
    }).toEqual({
      pathname: expected.pathname,
      search: expected.search,
      params: [...expected.searchParams],
    });
  });
});

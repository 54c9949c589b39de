// The token rule: 128 bits' worth of characters by the alphabet the token uses.
import { describe, expect, it } from 'vitest';
import { newToken, tokenProblem } from '../../../main/serve/token';

describe('tokenProblem', () => {
  it('accepts 22 base64url characters, 32 hexadecimal ones, and a new token', () => {
    expect(tokenProblem('Ab-_'.repeat(5) + 'xy')).toBeNull();
    expect(tokenProblem('0123456789abcdef'.repeat(2))).toBeNull();
    expect(tokenProblem(newToken())).toBeNull();
  });

  it('refuses fewer, saying how many are needed', () => {
    expect(tokenProblem('Ab-_'.repeat(5) + 'x')).toMatch(/21 characters, at least 22/);
    expect(tokenProblem('0123456789abcdef'.repeat(2).slice(1))).toMatch(/31 characters/);
    expect(tokenProblem('')).toMatch(/too short/);
  });

  it('refuses what an HTTP header cannot carry', () => {
    for (const t of ['a'.repeat(30) + ' b', 'ü'.repeat(40), 'x'.repeat(30) + '\n'])
      expect(tokenProblem(t)).toMatch(/printable ASCII/);
  });
});

/**
 * `patchwork serve`'s access token: the one made when none is given, and the rule a given one
 * must meet. Anyone who can reach the port may guess tokens, so a given one must be as hard to
 * guess as 128 random bits: 22 characters when it uses the base64url alphabet (6 bits each),
 * 32 when it is hexadecimal only (4 bits each). Length is all that can be checked; a long
 * token that is a word repeated is the user's choice. It travels in an HTTP header, so it is
 * limited to printable ASCII without spaces.
 */
import { randomBytes } from 'node:crypto';

const MIN_BASE64URL = 22;
const MIN_HEX = 32;

/** A new random token: 192 bits, 32 base64url characters. */
export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** What is wrong with `token` as serve's access token, or null when it will do. */
export function tokenProblem(token: string): string | null {
  if (!/^[\x21-\x7e]*$/.test(token)) {
    return 'the token may hold only printable ASCII characters, without spaces';
  }
  const hex = /^[0-9a-fA-F]*$/.test(token);
  const min = hex ? MIN_HEX : MIN_BASE64URL;
  if (token.length >= min) return null;
  return (
    `the token is too short to keep others out: ${token.length} characters, ` +
    `at least ${MIN_BASE64URL} letters/digits/-/_ (or ${MIN_HEX} hexadecimal) needed; ` +
    'leave --token out for a random one'
  );
}

// Awaits a promise that must reject and hands back its error, checked to be of the given
// class (Error by default), so a test can look at the error's code and message.
import { expect } from 'vitest';

export async function failure<E extends Error = Error>(
  p: Promise<unknown>,
  kind: abstract new (...args: never[]) => E = Error as unknown as abstract new (
    ...args: never[]
  ) => E,
): Promise<E> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(kind);
  return err as E;
}

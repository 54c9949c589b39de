// What the terminal says is the whole interface of a failure: user errors in plain words,
// an exhausted wasm heap as advice, anything else as a reportable bug.
import { describe, expect, it } from 'vitest';
import { EXIT, reportError, UsageError } from '../../../main/cli/errors';
import { OptionsError } from '../../../shared/options';

function report(err: unknown): { code: number; text: string } {
  let text = '';
  const stream = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WriteStream;
  return { code: reportError(err, stream), text };
}

/** A real WebAssembly.RuntimeError (the lib typings here have no DOM WebAssembly values). */
function wasmTrap(message: string): Error {
  const wasm = (globalThis as unknown as { WebAssembly: { RuntimeError: ErrorConstructor } })
    .WebAssembly;
  return new wasm.RuntimeError(message);
}

describe('reportError', () => {
  it('prints option and usage errors alone, with exit code 2', () => {
    expect(report(new OptionsError('option "ngf": must be positive', []))).toEqual({
      code: EXIT.usage,
      text: 'error: option "ngf": must be positive\n',
    });
    expect(report(new UsageError('--ngf expects a whole number')).code).toBe(EXIT.usage);
  });

  it('turns an exhausted wasm heap into advice, exit code 1', () => {
    const r = report(new Error('Aborted(). Build with -sASSERTIONS for more info.'));
    expect(r.code).toBe(EXIT.failed);
    expect(r.text).toMatch(/ran out of memory .* smaller --crop-size or --ngf/);
    expect(report(wasmTrap('divide by zero')).text).toMatch(/ran out of memory/);
  });

  it('prints the stack of anything unexpected and asks for a report', () => {
    const r = report(new TypeError('x is undefined'));
    expect(r.code).toBe(EXIT.failed);
    expect(r.text).toMatch(/unexpected, please report.*TypeError: x is undefined/s);
  });
});

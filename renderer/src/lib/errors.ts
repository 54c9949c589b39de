/**
 * Errors as an artist reads them: one line for the form, and each problem under its field.
 * The forms check their fields with the services' own schemas (shared/ipc.ts) and word the
 * issues as the services do (shared/plain-issues.ts), so a value refused here is the value
 * the services would refuse, in the same words.
 */
import type { z } from 'zod';
import { StudioError } from '../../../shared/ipc';
import { OptionsError } from '../../../shared/options';
import { plainIssues, type PlainIssue } from '../../../shared/plain-issues';

export function messageOf(err: unknown): string {
  if (err instanceof StudioError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

/** Field name of an issue path: "options.ngf" → "ngf"; `rename` maps a form's own names. */
export type FieldOf = (path: string) => string;

export const optionField: FieldOf = (path) => path.replace(/^options\./, '');

/** Problems by field (the first for each), from issues with paths. */
export function byField(
  issues: readonly PlainIssue[],
  fieldOf: FieldOf = optionField,
): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const i of issues) {
    const field = fieldOf(i.path);
    fields[field] ??= capitalise(i.message);
  }
  return fields;
}

/** What a schema says about a value, field by field, in plain words ({} when it is fine). */
export function schemaProblems(
  schema: z.ZodType,
  value: unknown,
  fieldOf: FieldOf = optionField,
): Record<string, string> {
  const parsed = schema.safeParse(value);
  return parsed.success ? {} : byField(plainIssues(parsed.error.issues), fieldOf);
}

/** The issues a refusal carries: a services' reply (StudioError) or an options check. */
export function issuesOf(err: unknown): PlainIssue[] {
  if (err instanceof StudioError) return err.issues;
  if (err instanceof OptionsError) {
    return err.issues.map((i) => ({ path: `options.${i.option}`, message: i.message }));
  }
  return [];
}

export function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * A form's attachment ({@attach enterDoesNotSubmit}): Enter in one of its fields commits the
 * value there instead of submitting, so a number typed in an advanced field never starts a
 * second job; only the form's button starts one.
 */
export function enterDoesNotSubmit(form: HTMLFormElement): () => void {
  const keydown = (event: KeyboardEvent) => {
    if (event.key === 'Enter' && event.target instanceof HTMLInputElement) event.preventDefault();
  };
  form.addEventListener('keydown', keydown);
  return () => form.removeEventListener('keydown', keydown);
}

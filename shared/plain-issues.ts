/**
 * A schema's complaints in the words of the person who filled the form: "must be at least 1"
 * rather than "Too small: expected number to be >=1", "Training steps" rather than
 * "iterations". The services word their refusals with it (parseRequest, OptionsError) and the
 * studio's forms check their fields with the same schemas and show the same words.
 */
import type { z } from 'zod';

/** One problem, with the path of the field it belongs to (dots between the parts). */
export interface PlainIssue {
  path: string;
  message: string;
}

/** What a field is called on the forms and in the CLI's words; the path's last part otherwise. */
export const FIELD_LABELS: Readonly<Record<string, string>> = {
  name: 'Name',
  source: 'Images you have',
  target: 'The look you want',
  input: 'Images to convert',
  output: 'Output folder',
  image: 'Image',
  styleId: 'Style',
  iterations: 'Training steps',
  previewEvery: 'Preview every … steps',
  ngf: 'Network width (ngf)',
  ndf: 'Discriminator width (ndf)',
  nBlocks: 'Residual blocks',
  nLayersD: 'Discriminator layers',
  cropSize: 'Crop size',
  loadSize: 'Load size',
  batchSize: 'Crops per step',
  lambdaNCE: 'NCE weight (λ NCE)',
  lambdaGAN: 'GAN weight (λ GAN)',
  numPatches: 'Patches per image',
  lr: 'Learning rate',
  epochs: 'Epochs',
  decayEpochs: 'Decay epochs',
  seed: 'Seed',
  tile: 'Tile size',
  quality: 'Quality',
  bitDepth: 'Bit depth',
  format: 'Format',
  nceTaps: 'Encoder taps',
};

/** The label of a field path ("options.ngf" → "Network width (ngf)"). */
export function fieldLabel(path: string): string {
  const last =
    path
      .split('.')
      .filter((p) => !/^\d+$/.test(p))
      .pop() ?? path;
  return FIELD_LABELS[last] ?? last;
}

/** Zod's own wording starts with one of these; a schema's own message is kept as written. */
const ZOD_WORDING = /^(Too small|Too big|Invalid|Unrecognized key|Expected)/;

function bound(n: number | bigint): string {
  return typeof n === 'bigint' ? n.toString() : n.toLocaleString('en-US');
}

/** What is wrong with a value, in a sentence's second half ("must be at least 1"). */
export function plainMessage(issue: z.core.$ZodIssue): string {
  if (!ZOD_WORDING.test(issue.message)) return issue.message;
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.expected === 'int') return 'must be a whole number';
      const received = (issue as { received?: unknown }).received;
      if (issue.expected === 'number') {
        // An emptied number field arrives as null, NaN or nothing at all.
        return received === 'NaN' || received === undefined || received === 'null'
          ? 'needs a number'
          : 'must be a number';
      }
      if (issue.expected === 'string') return 'needs to be filled in';
      if (issue.expected === 'boolean') return 'must be on or off';
      return `must be a ${issue.expected}`;
    }
    case 'too_small': {
      if (issue.origin === 'string') {
        return Number(issue.minimum) <= 1
          ? 'needs to be filled in'
          : `needs at least ${bound(issue.minimum)} characters`;
      }
      if (issue.origin === 'array' || issue.origin === 'set') {
        return `needs at least ${bound(issue.minimum)}`;
      }
      if (!issue.inclusive && Number(issue.minimum) === 0) return 'must be more than 0';
      return issue.inclusive
        ? `must be at least ${bound(issue.minimum)}`
        : `must be more than ${bound(issue.minimum)}`;
    }
    case 'too_big': {
      if (issue.origin === 'string') return `must be at most ${bound(issue.maximum)} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') {
        return `takes at most ${bound(issue.maximum)}`;
      }
      return issue.inclusive
        ? `must be at most ${bound(issue.maximum)}`
        : `must be less than ${bound(issue.maximum)}`;
    }
    case 'not_multiple_of':
      return `must be a multiple of ${bound(issue.divisor)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => String(v)).join(', ')}`;
    case 'unrecognized_keys':
      return `takes no ${issue.keys.join(', ')}`;
    case 'invalid_format':
      return 'is not in the expected form';
    case 'invalid_union':
      return 'is not one of the accepted choices';
    default:
      return 'is not accepted';
  }
}

/** A schema's issues as fields and plain words. */
export function plainIssues(issues: readonly z.core.$ZodIssue[]): PlainIssue[] {
  return issues.map((issue) => ({
    path: issue.path.length ? issue.path.map(String).join('.') : '(input)',
    message: plainMessage(issue),
  }));
}

/** One line for all of them: "Training steps: must be at least 1; Name: needs to be filled in." */
export function plainSentence(issues: readonly PlainIssue[]): string {
  const parts = issues.map((i) =>
    i.path === '(input)' ? capitalise(i.message) : `${fieldLabel(i.path)}: ${i.message}`,
  );
  return parts.length ? `${parts.join('; ')}.` : '';
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

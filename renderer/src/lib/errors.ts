/** An error as one line an artist can read (the services already word theirs that way). */
import { StudioError } from '../../../shared/ipc';

export function messageOf(err: unknown): string {
  if (err instanceof StudioError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

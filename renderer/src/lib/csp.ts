// Imported first by main.ts: the page's CSP forbids eval, and zod (the contract's schemas,
// shared/) would otherwise probe for it with `new Function`, a reported CSP violation.
import { z } from 'zod';

z.config({ jitless: true });

#!/usr/bin/env node
// Entry point of the `patchwork` command (kept apart so tests can import the program).
import { main } from './index';

process.exitCode = await main(process.argv.slice(2));

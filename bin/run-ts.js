#!/usr/bin/env node
// Runs a TypeScript file through tsx: `node bin/run-ts.js bench/index.ts ledger`.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

register();
const [file, ...rest] = process.argv.slice(2);
process.argv = [process.argv[0], file, ...rest];
await import(pathToFileURL(path.resolve(file)).href);

#!/usr/bin/env node
// The `kameng` command. TypeScript runs through tsx: no build step between editing and running.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');

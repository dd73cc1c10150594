#!/usr/bin/env node
// The CLI is TypeScript run through tsx's loader, so `npx distill` needs no build step.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src-main/cli/main.ts');
const { releaseBackend } = await import('../src-main/backends/select-backend.ts');
process.exitCode = await main(process.argv.slice(2));
// A live WebGPU (Dawn) device keeps the event loop running; let it go so the process can end.
releaseBackend();

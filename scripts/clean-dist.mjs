#!/usr/bin/env node
/**
 * Empties dist/ before a build. tsc writes what it compiles and never removes a file whose
 * source is gone: a deleted test would go on running from its stale compiled copy, and a
 * deleted module could still be imported by one.
 */
import { rmSync } from 'node:fs';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });

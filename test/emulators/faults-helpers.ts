/** Helpers for the fault-injection tests: the control endpoints over loopback HTTP, and a seeded random. */
import assert from 'node:assert/strict';
import { type JsonReply, readJson } from './helpers.js';

interface Emulator {
  readonly url: string;
}

/** POSTs a rule (any JSON value, or a raw string sent as is) to `/__emulator/faults`. */
export async function postFault(emulator: Emulator, rule: unknown): Promise<JsonReply> {
  const response = await fetch(`${emulator.url}/__emulator/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof rule === 'string' ? rule : JSON.stringify(rule),
  });
  return readJson(response);
}

/** Adds a rule that must be accepted; returns its id. */
export async function addFault(emulator: Emulator, rule: Record<string, unknown>): Promise<string> {
  const reply = await postFault(emulator, rule);
  assert.equal(reply.status, 201, JSON.stringify(reply.body));
  assert.equal(typeof reply.body.id, 'string');
  return reply.body.id as string;
}

export async function listFaults(emulator: Emulator): Promise<Record<string, unknown>[]> {
  const reply = await readJson<{ rules: Record<string, unknown>[] }>(
    await fetch(`${emulator.url}/__emulator/faults`),
  );
  assert.equal(reply.status, 200);
  return reply.body.rules;
}

export async function faultStats(emulator: Emulator): Promise<Record<string, number>> {
  const reply = await readJson(await fetch(`${emulator.url}/__emulator/stats`));
  return reply.body.faults as Record<string, number>;
}

/** mulberry32: a small seeded generator, so a test can replay the draws the emulator will make. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

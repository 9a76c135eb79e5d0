/** The shape every scenario reports in: tables for people, goals with a verdict, raw data for --json. */
import type { MachineInfo } from './machine.js';

export interface Table {
  caption?: string;
  head: string[];
  rows: string[][];
  /** One letter per column, `l` or `r`; default: first column left, the others right. */
  align?: string;
}

/** One of the goals for tokenkeeper, with what was measured and whether it was met. */
export interface Goal {
  measure: string;
  goal: string;
  measured: string;
  met: boolean;
}

export interface ScenarioResult {
  id: string;
  title: string;
  /** How it was measured, in a few sentences. */
  method: string;
  tables: Table[];
  goals: Goal[];
  notes: string[];
  /** Raw figures, for --json. */
  data: Record<string, unknown>;
}

export interface BenchReport {
  startedAt: string;
  durationMs: number;
  smoke: boolean;
  machine: MachineInfo;
  /** 1-minute load average when the run started and ended: the machine may be shared. */
  loadAverage: { start: number; end: number };
  versions: Record<string, string>;
  scenarios: ScenarioResult[];
}

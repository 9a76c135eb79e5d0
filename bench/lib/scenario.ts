/** What a scenario gets from the runner, and what it is. */
import type { ScenarioResult } from './report.js';

export interface BenchContext {
  /** Tiny sizes and durations: proves the code runs, measures nothing worth quoting. */
  smoke: boolean;
  /** A private temporary directory, removed after the run. */
  tmpDir: string;
  /** Progress for people, on stderr (stdout stays clean for --json). */
  log(message: string): void;
}

export interface Scenario {
  id: string;
  title: string;
  run(ctx: BenchContext): Promise<ScenarioResult>;
}

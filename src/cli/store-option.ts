/** The global `--store` option, read by the CLI (command-line.ts) and by the command that starts it (bundles.ts). */

/**
 * `--store LOCATION` may come anywhere before a `--` (after it, the arguments belong
 * to the program `exec` runs). It is handed on as TOKENKEEPER_STORE, which every
 * command and the keeper already read. Undefined when --store is given no value.
 */
export function takeStoreOption(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): { argv: string[]; env: NodeJS.ProcessEnv; store?: string } | undefined {
  const rest: string[] = [];
  let store: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg === '--store') {
      const value = argv[++i];
      // A flag is not a location, and an empty one would quietly mean the default store.
      if (value === undefined || value === '' || (value.startsWith('-') && value !== '-')) return undefined;
      store = value;
    } else if (arg.startsWith('--store=')) {
      store = arg.slice('--store='.length);
      if (store === '') return undefined;
    } else {
      rest.push(arg);
    }
  }
  return store === undefined
    ? { argv: rest, env }
    : { argv: rest, env: { ...env, TOKENKEEPER_STORE: store }, store };
}

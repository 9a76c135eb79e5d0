import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type * as tokenkeeper from 'tokenkeeper';
import type {
  AuthorizationResponseContext,
  LoopbackReceiverOptions,
  MemoryTokenStoreOptions,
  OpenStoreOptions,
  PostgresTokenStoreOptions,
  RedisTokenStoreOptions,
  SqliteTokenStoreOptions,
} from 'tokenkeeper';

/** True only when A and B are the same type (not merely assignable one way). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

describe('the published entry points', () => {
  it('"tokenkeeper" and "tokenkeeper/emulators" work together as a user would import them', async () => {
    const { createKeeper, MemoryTokenStore, TokenkeeperError } = await import('tokenkeeper');
    const { startFactusEmulator } = await import('tokenkeeper/emulators');
    const emulator = await startFactusEmulator();
    const keeper = createKeeper({ store: new MemoryTokenStore() });
    try {
      await keeper.connect('acme', { provider: 'factus', baseUrl: emulator.url, ...emulator.credentials });
      const response = await keeper.fetch('acme', '/v1/numbering-ranges');
      assert.equal(response.status, 200);
      const body = (await response.json()) as { status: string };
      assert.equal(body.status, 'OK');
      await assert.rejects(keeper.getAccessToken('missing'), TokenkeeperError);
    } finally {
      await keeper.close();
      await emulator.stop();
    }
  });
});

describe('the types a user names', () => {
  it('"tokenkeeper" exports the option types of the functions and classes it exports', () => {
    // Checked when the tests compile: a type missing from the package entry, or one that is
    // no longer what its function takes, fails the build.
    const named: [
      Same<PostgresTokenStoreOptions, Parameters<typeof tokenkeeper.PostgresTokenStore.connect>[0]>,
      Same<RedisTokenStoreOptions, Parameters<typeof tokenkeeper.RedisTokenStore.connect>[0]>,
      Same<SqliteTokenStoreOptions, NonNullable<Parameters<typeof tokenkeeper.SqliteTokenStore.open>[1]>>,
      Same<
        MemoryTokenStoreOptions,
        NonNullable<ConstructorParameters<typeof tokenkeeper.MemoryTokenStore>[0]>
      >,
      Same<OpenStoreOptions, NonNullable<Parameters<typeof tokenkeeper.openStore>[1]>>,
      Same<
        AuthorizationResponseContext,
        NonNullable<Parameters<typeof tokenkeeper.readAuthorizationResponse>[2]>
      >,
      Same<LoopbackReceiverOptions, Parameters<typeof tokenkeeper.startLoopbackReceiver>[0]>,
    ] = [true, true, true, true, true, true, true];
    assert.equal(named.length, 7);
  });
});

describe('the documentation of the public API', () => {
  it('every export of "tokenkeeper", of the adapter entries and of "tokenkeeper/emulators" has a doc comment', async () => {
    const { readFile } = await import('node:fs/promises');
    const { default: ts } = await import('typescript');
    const root = new URL('../../../', import.meta.url);
    const pkg = JSON.parse(await readFile(new URL('package.json', root), 'utf8')) as {
      exports: Record<string, { types?: string }>;
    };
    // The emulators entry is a test tool, but users build their tests on it: it is documented too.
    const entries = ['.', './axios', './undici', './ky', './openapi-fetch', './emulators'];
    const files = entries.map((entry) => new URL(pkg.exports[entry]!.types!, root).pathname);
    const program = ts.createProgram(files, {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      noEmit: true,
    });
    const checker = program.getTypeChecker();
    const undocumented: string[] = [];
    for (const [i, file] of files.entries()) {
      const source = program.getSourceFile(file);
      assert.ok(source, `the declarations of ${entries[i]} are built`);
      const module = checker.getSymbolAtLocation(source);
      assert.ok(module, `${entries[i]} is a module`);
      const exported = checker.getExportsOfModule(module);
      assert.ok(exported.length > 0, `${entries[i]} exports something`);
      for (const symbol of exported) {
        const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
        const doc = ts.displayPartsToString(target.getDocumentationComment(checker)).trim();
        if (!doc) undocumented.push(`${entries[i]}: ${symbol.name}`);
      }
    }
    assert.deepEqual(undocumented, [], 'exports without a doc comment');
  });
});

describe('the adapter entry points', () => {
  it('"tokenkeeper/axios", "/undici", "/ky" and "/openapi-fetch" resolve as a user would import them', async () => {
    const { useKeeper } = await import('tokenkeeper/axios');
    const { keeperDispatcher, keeperInterceptor } = await import('tokenkeeper/undici');
    const { keeperHooks } = await import('tokenkeeper/ky');
    const { keeperMiddleware } = await import('tokenkeeper/openapi-fetch');
    for (const exported of [useKeeper, keeperDispatcher, keeperInterceptor, keeperHooks, keeperMiddleware]) {
      assert.equal(typeof exported, 'function');
    }
  });

  it('installing tokenkeeper pulls in none of the HTTP clients: they are optional peers', async () => {
    const { readFile } = await import('node:fs/promises');
    const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      dependencies: Record<string, string>;
      peerDependencies: Record<string, string>;
      peerDependenciesMeta: Record<string, { optional?: boolean }>;
    };
    for (const client of ['axios', 'undici', 'ky', 'openapi-fetch']) {
      assert.equal(pkg.dependencies[client], undefined, `${client} must not be a dependency`);
      assert.ok(pkg.peerDependencies[client], `${client} is a peer dependency`);
      assert.equal(pkg.peerDependenciesMeta[client]?.optional, true, `${client} is optional`);
    }
  });
});

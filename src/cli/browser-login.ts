/**
 * The authorization code login as a person does it: a URL to open, a browser,
 * and a code coming back, either to a one-shot loopback listener or pasted by
 * hand (out of band).
 */
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { TokenkeeperError } from '../errors.js';
import {
  checkAuthorizationRequest,
  createAuthorizationRequest,
  generateState,
  readAuthorizationResponse,
} from '../grants/authorization-code.js';
import { isLoopbackRedirectUri, startLoopbackReceiver } from '../grants/loopback-receiver.js';
import type { AuthorizationCodeResult } from '../grants/strategies.js';
import type { AuthorizationPrompt } from '../keeper.js';
import { type CliIO, say } from './output.js';
import { ask, canPrompt } from './prompt.js';

export interface BrowserLoginOptions {
  redirectUri: string;
  openBrowser: boolean;
  timeoutMs: number;
  clientRegistrationHint?: string;
}

/** The browser step of `keeper.connect` (its `authorize` option), as a person does it at a terminal. */
export async function authorizeInBrowser(
  io: CliIO,
  prompt: AuthorizationPrompt,
  options: BrowserLoginOptions,
): Promise<AuthorizationCodeResult> {
  const state = generateState();
  const loopback = isLoopbackRedirectUri(options.redirectUri);
  const receiver = loopback
    ? await startLoopbackReceiver({
        redirectUri: options.redirectUri,
        expectedState: state,
        timeoutMs: options.timeoutMs,
      })
    : undefined;
  try {
    const request = await createAuthorizationRequest({
      authorizationUrl: prompt.authorizationUrl,
      clientId: prompt.clientId,
      redirectUri: receiver?.redirectUri ?? options.redirectUri,
      ...(prompt.scope ? { scope: prompt.scope } : {}),
      pkce: prompt.pkce,
      state,
    });
    await checkAuthorizationRequest(request, {
      fetch: prompt.fetch,
      timeoutMs: prompt.preflightTimeoutMs,
      ...(options.clientRegistrationHint ? { clientRegistrationHint: options.clientRegistrationHint } : {}),
    });

    say(io, `Open this URL in a browser to authorize tokenkeeper:\n\n  ${request.url.href}\n`);
    if (options.openBrowser) await openInBrowser(io, request.url.href);

    const context = {
      ...(prompt.issuer ? { issuer: prompt.issuer } : {}),
      ...(options.clientRegistrationHint ? { clientRegistrationHint: options.clientRegistrationHint } : {}),
    };
    let code: string;
    if (receiver) {
      say(io, `Waiting for the browser to come back to ${receiver.redirectUri} …`);
      code = readAuthorizationResponse(request, await receiver.result, context);
    } else {
      const pasted = await readPasted(
        io,
        'Paste the code shown by the provider (or the whole URL you were sent to): ',
      );
      // Pasted by the person at this terminal: a bare code is allowed, a URL's state is still checked.
      code = readAuthorizationResponse(request, pasted, { ...context, outOfBand: true });
    }
    return {
      code,
      redirectUri: request.redirectUri,
      ...(request.codeVerifier ? { codeVerifier: request.codeVerifier } : {}),
    };
  } finally {
    await receiver?.close();
  }
}

async function openInBrowser(io: CliIO, url: string): Promise<void> {
  try {
    // An ES module, required (Node 20.19+ requires ES modules) because the CLI bundle turns every
    // import() into a require() that would hand over its namespace as `default` (bundle-cli.mjs).
    const { default: open } = createRequire(import.meta.url)('open') as typeof import('open');
    const child = await open(url);
    child.on('error', () => say(io, 'Could not open a browser; open the URL above yourself.'));
  } catch {
    say(io, 'Could not open a browser; open the URL above yourself.');
  }
}

/** One line from the terminal, or from standard input when it is a pipe. */
async function readPasted(io: CliIO, question: string): Promise<string> {
  if (canPrompt(io)) return ask(io, question);
  io.stderr.write(question);
  const lines = createInterface({ input: io.stdin });
  for await (const line of lines) {
    if (line.trim()) {
      lines.close();
      return line.trim();
    }
  }
  throw new TokenkeeperError('USAGE', 'No code was given on standard input; nothing was saved.');
}

/**
 * `tokenkeeper completion bash|zsh|fish`: a completion script for the shell. Commands
 * and flags are written into the script from the command modules themselves, so they
 * never drift; connection names are asked for as the person types
 * (`tokenkeeper completion --connections`, which reads metadata only and needs no key).
 */
import { parseCommandArgs, UsageError } from './args.js';
import { COMMANDS, commandNames } from './commands.js';
import { ExitCode } from './exit-codes.js';
import { withKeeper } from './open-keeper.js';
import type { CliIO } from './output.js';

export const usage =
  'tokenkeeper completion bash|zsh|fish\nPrints a completion script for commands, flags and connection names. To enable it:\n' +
  '  bash: echo \'eval "$(tokenkeeper completion bash)"\' >> ~/.bashrc\n' +
  '  zsh:  echo \'eval "$(tokenkeeper completion zsh)"\' >> ~/.zshrc   (after compinit)\n' +
  '  fish: tokenkeeper completion fish > ~/.config/fish/completions/tokenkeeper.fish';

export const options = { connections: { type: 'boolean' } } as const;

const SHELLS = ['bash', 'zsh', 'fish'] as const;
type Shell = (typeof SHELLS)[number];

interface CommandShape {
  name: string;
  summary: string;
  flags: string[];
  takesConnection: boolean;
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const parsed = parseCommandArgs(argv, options, usage, io);
  if (!parsed) return ExitCode.ok;
  const { values, positionals } = parsed;
  if (values.connections) {
    // Called by the scripts while a person types: a missing store just offers nothing.
    const names = await withKeeper(io, async (keeper) => (await keeper.list()).map((c) => c.name)).catch(
      () => [],
    );
    if (names.length > 0) io.stdout.write(`${names.join('\n')}\n`);
    return ExitCode.ok;
  }
  const [shell, extra] = positionals;
  if (extra !== undefined) throw new UsageError(`Unexpected argument "${extra}".`, usage);
  if (!shell || !(SHELLS as readonly string[]).includes(shell)) {
    throw new UsageError(
      shell ? `No completion for "${shell}"; use bash, zsh or fish.` : 'Which shell?',
      usage,
    );
  }
  const shapes = await commandShapes();
  io.stdout.write(SCRIPTS[shell as Shell](shapes));
  return ExitCode.ok;
}

async function commandShapes(): Promise<CommandShape[]> {
  return Promise.all(
    commandNames().map(async (name) => {
      const entry = COMMANDS[name]!;
      const options = name === 'help' || name === 'version' ? {} : ((await entry.load()).options ?? {});
      return {
        name,
        summary: entry.summary,
        flags: [...Object.keys(options).map((flag) => `--${flag}`), ...(name === 'help' ? [] : ['--help'])],
        takesConnection: Boolean(entry.takesConnection),
      };
    }),
  );
}

const GLOBAL_FLAGS = '--store --help --version';

function bash(shapes: CommandShape[]): string {
  const flagCases = shapes.map((s) => `    ${s.name}) flags="${s.flags.join(' ')}" ;;`).join('\n');
  const withNames = shapes.filter((s) => s.takesConnection).map((s) => s.name);
  return `# tokenkeeper completion for bash: eval "$(tokenkeeper completion bash)"
_tokenkeeper() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      --store) ((i++)) ;;
      -*) ;;
      *) cmd="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  if [[ -z "$cmd" ]]; then
    COMPREPLY=($(compgen -W "${shapes.map((s) => s.name).join(' ')} ${GLOBAL_FLAGS}" -- "$cur"))
    return
  fi
  local flags=""
  case "$cmd" in
${flagCases}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    return
  fi
  case "$cmd" in
    help) COMPREPLY=($(compgen -W "${shapes.map((s) => s.name).join(' ')}" -- "$cur")) ;;
    completion) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")) ;;
    ${withNames.join('|')})
      COMPREPLY=($(compgen -W "$(tokenkeeper completion --connections 2>/dev/null)" -- "$cur")) ;;
  esac
}
complete -F _tokenkeeper tokenkeeper
`;
}

function zsh(shapes: CommandShape[]): string {
  const described = shapes.map((s) => `    '${s.name}:${s.summary.replace(/'/g, '')}'`).join('\n');
  const flagCases = shapes.map((s) => `    ${s.name}) flags=(${s.flags.join(' ')}) ;;`).join('\n');
  const withNames = shapes.filter((s) => s.takesConnection).map((s) => s.name);
  return `# tokenkeeper completion for zsh: eval "$(tokenkeeper completion zsh)" (after compinit)
_tokenkeeper() {
  local -a commands flags
  commands=(
${described}
  )
  if (( CURRENT == 2 )); then
    if [[ $PREFIX == -* ]]; then compadd -- ${GLOBAL_FLAGS}; else _describe 'command' commands; fi
    return
  fi
  local cmd=$words[2]
  case $cmd in
${flagCases}
  esac
  if [[ $PREFIX == -* ]]; then
    compadd -- $flags
    return
  fi
  case $cmd in
    help) _describe 'command' commands ;;
    completion) compadd bash zsh fish ;;
    ${withNames.join('|')}) compadd -- \${(f)"$(tokenkeeper completion --connections 2>/dev/null)"} ;;
  esac
}
compdef _tokenkeeper tokenkeeper
`;
}

function fish(shapes: CommandShape[]): string {
  const lines = [
    '# tokenkeeper completion for fish: tokenkeeper completion fish > ~/.config/fish/completions/tokenkeeper.fish',
    'complete -c tokenkeeper -f',
    'complete -c tokenkeeper -n __fish_use_subcommand -l store -r -d "Where connections are kept"',
  ];
  for (const s of shapes) {
    lines.push(`complete -c tokenkeeper -n __fish_use_subcommand -a ${s.name} -d ${fishQuote(s.summary)}`);
    for (const flag of s.flags) {
      lines.push(`complete -c tokenkeeper -n '__fish_seen_subcommand_from ${s.name}' -l ${flag.slice(2)}`);
    }
  }
  const withNames = shapes.filter((s) => s.takesConnection).map((s) => s.name);
  lines.push(
    `complete -c tokenkeeper -n '__fish_seen_subcommand_from ${withNames.join(' ')}' -a '(tokenkeeper completion --connections 2>/dev/null)'`,
    `complete -c tokenkeeper -n '__fish_seen_subcommand_from help' -a '${shapes.map((s) => s.name).join(' ')}'`,
    "complete -c tokenkeeper -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'",
  );
  return `${lines.join('\n')}\n`;
}

function fishQuote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

const SCRIPTS: Record<Shell, (shapes: CommandShape[]) => string> = { bash, zsh, fish };

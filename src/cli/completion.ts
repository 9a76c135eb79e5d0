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
      const options = name === 'help' ? {} : ((await entry.load()).options ?? {});
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

/*
 * Each script finds the command the way command-line.ts does: the first word that is not a flag,
 * skipping `--store` and its value, wherever they are. That value is passed on when it asks
 * for connection names, so a store given on the command line is the one completed from
 * (unquoted; tokenkeeper itself reads a leading ~ as the home directory).
 */

function bash(shapes: CommandShape[]): string {
  const flagCases = shapes.map((s) => `    ${s.name}) flags="${s.flags.join(' ')}" ;;`).join('\n');
  const withNames = shapes.filter((s) => s.takesConnection).map((s) => s.name);
  return `# tokenkeeper completion for bash: eval "$(tokenkeeper completion bash)"
_tokenkeeper() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="" store="" typing="" word i n
  local -a words storeArgs=()
  # COMP_WORDS breaks words at = and :, which locations hold (sqlite:…, postgres://…): the
  # line as typed, up to the cursor, split at blanks, is read instead.
  read -r -a words <<< "\${COMP_LINE:0:COMP_POINT}"
  n=\${#words[@]}
  # The word under the cursor is still being typed.
  if [[ "\${COMP_LINE:0:COMP_POINT}" != *[[:space:]] ]]; then ((n--)); typing="\${words[n]}"; fi
  for ((i = 1; i < n; i++)); do
    word="\${words[i]}"
    case "$word" in
      --) break ;;
      --store) ((i++)); ((i < n)) && store="\${words[i]}" || typing="--store=$typing" ;;
      --store=*) store="\${word#--store=}" ;;
      -*) ;;
      *) [[ -n "$cmd" ]] || cmd="$word" ;;
    esac
  done
  if [[ "$typing" == --store=* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
    return
  fi
  store=\${store#[\\"\\']}; store=\${store%[\\"\\']}
  [[ -z "$store" ]] || storeArgs=(--store "$store")
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
      COMPREPLY=($(compgen -W "$(tokenkeeper "\${storeArgs[@]}" completion --connections 2>/dev/null)" -- "$cur")) ;;
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
  local -a commands flags storeArgs
  local cmd store i
  commands=(
${described}
  )
  if [[ $words[CURRENT-1] == --store ]]; then _files; return; fi
  if [[ $PREFIX == --store=* ]]; then compset -P '--store='; _files; return; fi
  for (( i = 2; i < CURRENT; i++ )); do
    case $words[i] in
      --) break ;;
      --store) (( i++ )); store=$words[i] ;;
      --store=*) store=\${words[i]#--store=} ;;
      -*) ;;
      *) [[ -n $cmd ]] || cmd=$words[i] ;;
    esac
  done
  store=\${(Q)store}
  [[ -z $store ]] || storeArgs=(--store "$store")
  if [[ -z $cmd ]]; then
    if [[ $PREFIX == -* ]]; then compadd -- ${GLOBAL_FLAGS}; else _describe 'command' commands; fi
    return
  fi
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
    ${withNames.join('|')}) compadd -- \${(f)"$(tokenkeeper $storeArgs completion --connections 2>/dev/null)"} ;;
  esac
}
compdef _tokenkeeper tokenkeeper
`;
}

/** fish's own __fish_use_subcommand would take the value of --store for the command. */
const FISH_FUNCTIONS = `function __tokenkeeper_command --description 'The command word, past --store and its value'
    set -l skip 0
    for word in (commandline -opc)[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $word
            case --
                return 1
            case --store
                set skip 1
            case '-*'
            case '*'
                echo $word
                return 0
        end
    end
    return 1
end
function __tokenkeeper_command_is --description 'Whether the command word is one of the arguments'
    set -l command (__tokenkeeper_command)
    and contains -- $command $argv
end
function __tokenkeeper_connections --description 'Connection names, from the --store on the line if any'
    set -l store
    set -l take 0
    for word in (commandline -opc)[2..-1]
        if test $take = 1
            set store $word
            set take 0
            continue
        end
        switch $word
            case --
                break
            case --store
                set take 1
            case '--store=*'
                set store (string replace -- --store= '' $word)
        end
    end
    if test -n "$store"
        tokenkeeper --store $store completion --connections 2>/dev/null
    else
        tokenkeeper completion --connections 2>/dev/null
    end
end`;

function fish(shapes: CommandShape[]): string {
  const lines = [
    '# tokenkeeper completion for fish: tokenkeeper completion fish > ~/.config/fish/completions/tokenkeeper.fish',
    FISH_FUNCTIONS,
    'complete -c tokenkeeper -f',
    'complete -c tokenkeeper -l store -r -F -d "Where connections are kept"',
  ];
  for (const s of shapes) {
    lines.push(
      `complete -c tokenkeeper -n 'not __tokenkeeper_command' -a ${s.name} -d ${fishQuote(s.summary)}`,
    );
    for (const flag of s.flags) {
      lines.push(`complete -c tokenkeeper -n '__tokenkeeper_command_is ${s.name}' -l ${flag.slice(2)}`);
    }
  }
  const withNames = shapes.filter((s) => s.takesConnection).map((s) => s.name);
  lines.push(
    `complete -c tokenkeeper -n '__tokenkeeper_command_is ${withNames.join(' ')}' -a '(__tokenkeeper_connections)'`,
    `complete -c tokenkeeper -n '__tokenkeeper_command_is help' -a '${shapes.map((s) => s.name).join(' ')}'`,
    "complete -c tokenkeeper -n '__tokenkeeper_command_is completion' -a 'bash zsh fish'",
  );
  return `${lines.join('\n')}\n`;
}

function fishQuote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

const SCRIPTS: Record<Shell, (shapes: CommandShape[]) => string> = { bash, zsh, fish };

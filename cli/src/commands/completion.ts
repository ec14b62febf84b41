/**
 * `neetodeploy completion bash|zsh`: a completion script for the commands and flags declared
 * in cli.ts (it is generated from the declarations, so it cannot fall behind them).
 *   bash: `source <(neetodeploy completion bash)`, or save it under bash-completion's folder;
 *   zsh:  `source <(neetodeploy completion zsh)`, or save it as `_neetodeploy` on `$fpath`.
 */
import type { Deps, CommandResult } from '../deps.js';
import { UsageError } from '../errors.js';
import { write } from '../io.js';

export interface CompletedCommand {
  /** `config:get`, or `auth status` for a subcommand. */
  readonly name: string;
  readonly description: string;
  /** `-a`, `--app`, ... */
  readonly flags: readonly string[];
}

export interface CompletionOptions {
  readonly shell: string;
  readonly commands: readonly CompletedCommand[];
}

const single = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function bash(commands: readonly CompletedCommand[]): string {
  const top = [...new Set(commands.map((c) => c.name.split(' ')[0] ?? ''))];
  const cases = commands.map(
    (c) => `    ${single(c.name)}) words=${single([...c.flags, '--help'].join(' '))} ;;`,
  );
  const subs = commands.filter((c) => c.name.includes(' '));
  return `# bash completion for neetodeploy: source <(neetodeploy completion bash)
_neetodeploy() {
  local line=\${COMP_LINE:0:COMP_POINT} cur= cmd= words=
  local -a parts
  read -ra parts <<< "$line"
  [[ $line == *' ' ]] || { cur=\${parts[-1]}; unset 'parts[-1]'; }
  cmd=\${parts[1]}
  ${subs.length > 0 ? `case "\${parts[1]} \${parts[2]}" in ${subs.map((c) => `${single(c.name)}`).join('|')}) cmd="\${parts[1]} \${parts[2]}" ;; esac` : ''}
  if (( \${#parts[@]} <= 1 )); then
    words=${single(top.join(' '))}
  else
    case "$cmd" in
${cases.join('\n')}
${[...new Set(subs.map((c) => c.name.split(' ')[0] ?? ''))]
  .map(
    (t) =>
      `    ${single(t)}) words=${single(
        subs
          .filter((c) => c.name.startsWith(`${t} `))
          .map((c) => c.name.split(' ')[1] ?? '')
          .join(' '),
      )} ;;`,
  )
  .join('\n')}
    esac
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
  # Command names hold ':', which bash splits words at: complete only the part after it.
  if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
    local prefix=\${cur%"\${cur##*:}"}
    COMPREPLY=("\${COMPREPLY[@]#"$prefix"}")
  fi
}
complete -o default -F _neetodeploy neetodeploy
`;
}

function zsh(commands: readonly CompletedCommand[]): string {
  const top = commands.filter((c) => !c.name.includes(' '));
  const described = top.map((c) => single(`${c.name.replace(/:/g, '\\:')}:${c.description}`));
  const cases = commands.map(
    (c) => `    ${single(c.name)}) compadd -- ${[...c.flags, '--help'].map(single).join(' ')} ;;`,
  );
  const parents = [
    ...new Set(commands.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0] ?? '')),
  ];
  return `#compdef neetodeploy
# zsh completion for neetodeploy: source <(neetodeploy completion zsh), or save as _neetodeploy on $fpath
_neetodeploy() {
  local -a cmds
  cmds=(${described.join(' ')})
  if (( CURRENT == 2 )); then
    _describe 'command' cmds
    return
  fi
  local cmd=$words[2]
  ${
    parents.length > 0
      ? `case $cmd in ${parents.map(single).join('|')}) if (( CURRENT == 3 )); then compadd -- ${commands
          .filter((c) => c.name.includes(' '))
          .map((c) => single(c.name.split(' ')[1] ?? ''))
          .join(' ')}; return; fi; cmd="$words[2] $words[3]" ;; esac`
      : ''
  }
  case $cmd in
${cases.join('\n')}
    *) _files ;;
  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _neetodeploy "$@"
else
  compdef _neetodeploy neetodeploy
fi
`;
}

export async function runCompletion(options: CompletionOptions, deps: Deps): CommandResult {
  if (options.shell !== 'bash' && options.shell !== 'zsh') {
    throw new UsageError(`SHELL: ${JSON.stringify(options.shell)} is not one of bash, zsh`);
  }
  await write(
    deps.io.stdout,
    options.shell === 'bash' ? bash(options.commands) : zsh(options.commands),
  );
}

/**
 * Shell completion (bash, zsh) and the man page, generated from the
 * command definitions themselves (the commander tree that `ssdtune` parses
 * with), so they can never list an option the CLI does not have or miss
 * one it has. `ssdtune completion bash|zsh` prints a completion script;
 * `npm run docs` writes man/ssdtune.1, which test/docs.test.ts keeps current.
 */
import type { Command } from 'commander';
import { EXIT, EXIT_MEANING } from '../errors.js';

export interface OptionRef {
  /** every spelling: ['-h', '--help'] */
  names: string[];
  description: string;
  /** '<dir>' / '[n]' when the option takes a value */
  value?: string;
  choices?: string[];
}

export interface CommandRef {
  /** ['ssdtune', 'db', 'list'] */
  path: string[];
  description: string;
  usage: string;
  options: OptionRef[];
  args: { name: string; required: boolean; variadic: boolean; description: string; choices?: string[] }[];
  subcommands: CommandRef[];
}

/** The command tree as plain data, in the order the help shows it (hidden commands and options left out). */
export function commandTree(cmd: Command, parent: string[] = []): CommandRef {
  const help = cmd.createHelp();
  const path = [...parent, cmd.name()];
  return {
    path,
    description: cmd.description(),
    usage: cmd.usage(),
    options: help.visibleOptions(cmd).map((o) => ({
      names: [o.short, o.long].filter((n): n is string => !!n),
      description: o.description,
      ...(o.required || o.optional ? { value: o.flags.slice(o.flags.search(/[<[]/)) } : {}),
      ...(o.argChoices ? { choices: [...o.argChoices] } : {}),
    })),
    args: help.visibleArguments(cmd).map((a) => ({
      name: a.name(),
      required: a.required,
      variadic: a.variadic,
      description: a.description,
      ...(a.argChoices ? { choices: [...a.argChoices] } : {}),
    })),
    subcommands: help
      .visibleCommands(cmd)
      .filter((c) => c.name() !== 'help')
      .map((c) => commandTree(c, path)),
  };
}

function walk(c: CommandRef, f: (c: CommandRef) => void): void {
  f(c);
  for (const s of c.subcommands) walk(s, f);
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export function bashCompletion(program: Command): string {
  const root = commandTree(program);
  const name = root.path[0]!;
  const fn = `_${name.replace(/\W/g, '_')}`;
  const steps: string[] = [];
  const tables: string[] = [];
  const values: string[] = [];
  walk(root, (c) => {
    const p = c.path.join(' ');
    for (const s of c.subcommands) steps.push(`      ${q(`${p}:${s.path.at(-1)}`)}) path="$path ${s.path.at(-1)}" ;;`);
    const opts = c.options.flatMap((o) => o.names);
    // a first argument with fixed choices completes like subcommands
    const subs = c.subcommands.length ? c.subcommands.map((s) => s.path.at(-1)) : (c.args[0]?.choices ?? []);
    tables.push(`    ${q(p)}) subs=${q(subs.join(' '))}; opts=${q(opts.join(' '))} ;;`);
    for (const o of c.options) {
      if (!o.value) continue;
      const reply = o.choices ? `COMPREPLY=($(compgen -W ${q(o.choices.join(' '))} -- "$cur"))` : 'COMPREPLY=()'; // empty: bash's default (file names)
      for (const n of o.names) values.push(`    ${q(`${p}:${n}`)}) ${reply}; return ;;`);
    }
  });
  return `# bash completion for ${name}, generated from its command definitions (\`${name} completion bash\`).
# Install: ${name} completion bash > /etc/bash_completion.d/${name}   (or source it from ~/.bashrc)
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local path=${q(name)} i w subs opts
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$path:$w" in
${steps.join('\n')}
    esac
  done
  case "$path:$prev" in
${values.join('\n')}
  esac
  case "$path" in
${tables.join('\n')}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [[ -n "$subs" ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  else
    COMPREPLY=() # arguments: bash's default (file names)
  fi
}
complete -o default -F ${fn} ${name}
`;
}

/** zsh's _arguments/_describe descriptions: brackets and colons are syntax there. */
function zdesc(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/([[\]:'])/g, (m) => (m === "'" ? `'\\''` : `\\${m}`));
}

export function zshCompletion(program: Command): string {
  const root = commandTree(program);
  const name = root.path[0]!;
  const fns: string[] = [];
  walk(root, (c) => {
    const fn = `_${c.path.join('_').replace(/\W/g, '_')}`;
    const specs: string[] = [];
    for (const o of c.options) {
      const excl = o.names.length > 1 ? `(${o.names.join(' ')})` : '';
      const action = o.value ? `:${zdesc(o.value.replace(/[<>[\]]/g, ''))}:${o.choices ? `(${o.choices.join(' ')})` : '_files'}` : '';
      const names = o.names.length > 1 ? `{${o.names.join(',')}}` : o.names[0]!;
      specs.push(`'${excl}'${names}'[${zdesc(o.description)}]${action}'`);
    }
    if (c.subcommands.length) {
      specs.push(`'1: :->cmds'`, `'*::arg:->args'`);
      const list = c.subcommands.map((s) => `      '${zdesc(s.path.at(-1)!)}:${zdesc(s.description)}'`).join('\n');
      const dispatch = c.subcommands.map((s) => `        ${s.path.at(-1)}) _${s.path.join('_').replace(/\W/g, '_')} ;;`).join('\n');
      fns.push(`${fn}() {
  local curcontext="$curcontext" state line
  _arguments -C \\
    ${specs.join(' \\\n    ')}
  case $state in
    cmds)
      local -a commands
      commands=(
${list}
      )
      _describe -t commands 'command' commands ;;
    args)
      case $line[1] in
${dispatch}
      esac ;;
  esac
}`);
    } else {
      for (const a of c.args) specs.push(`'${a.variadic ? '*' : ''}:${zdesc(a.name)}:${a.choices ? `(${a.choices.join(' ')})` : '_files'}'`);
      fns.push(`${fn}() {
  _arguments \\
    ${specs.join(' \\\n    ')}
}`);
    }
  });
  return `#compdef ${name}
# zsh completion for ${name}, generated from its command definitions (\`${name} completion zsh\`).
# Install: ${name} completion zsh > "\${fpath[1]}/_${name}", then restart zsh (compinit).
${fns.join('\n\n')}

if [[ "$funcstack[1]" == "_${name}" ]]; then _${name} "$@"; else compdef _${name} ${name}; fi
`;
}

/** roff text: backslashes escaped, a leading dot or quote neutralised, hyphens as minus where they are options. */
function roff(s: string): string {
  return s.replace(/\\/g, '\\e').replace(/^([.'])/gm, '\\&$1');
}

function roffOpt(s: string): string {
  return roff(s).replace(/-/g, '\\-');
}

export function manPage(program: Command, version: string): string {
  const root = commandTree(program);
  const name = root.path[0]!;
  const out: string[] = [
    `.\\" Generated from the command definitions by \`npm run docs\` (src/cli/reference.ts). Do not edit.`,
    `.TH ${name.toUpperCase()} 1 "" "${name} ${version}" "User Commands"`,
    '.SH NAME',
    `${name} \\- ${roff(root.description)}`,
    '.SH SYNOPSIS',
    `.B ${name}`,
    '.I command',
    '.RI [ options ]',
    '.RI [ arguments ]',
    '.SH DESCRIPTION',
    roff(root.description),
    `Each command is described below; \\fB${name} \\fIcommand\\fB \\-\\-help\\fR prints the same with examples.`,
    '.SH OPTIONS',
  ];
  const options = (c: CommandRef): void => {
    for (const o of c.options) {
      out.push(
        '.TP',
        `.B ${o.names.map(roffOpt).join(', ')}${o.value ? ` \\fI${roff(o.value)}\\fR` : ''}`,
        roff(o.description) + (o.choices ? ` (one of: ${o.choices.map(roff).join(', ')})` : ''),
      );
    }
  };
  options(root);
  out.push('.SH COMMANDS');
  walk(root, (c) => {
    if (c === root) return;
    out.push(`.SS "${c.path.join(' ')} ${roff(c.usage)}"`, roff(c.description));
    for (const a of c.args) if (a.description) out.push('.TP', `.I ${roff(a.name)}`, roff(a.description));
    options(c);
  });
  out.push('.SH EXIT STATUS', '.TS', 'tab(|);', 'r l.');
  for (const [k, v] of Object.entries(EXIT)) out.push(`${v}|${roff(EXIT_MEANING[k as keyof typeof EXIT])}`);
  out.push('.TE', 'Every error names its code (see docs/errors.md in the package).');
  out.push('.SH SEE ALSO', '.BR blktrace (8),', '.BR blkparse (1),', '.BR biosnoop (8),', '.BR tuned\\-adm (8),', '.BR fio (1)');
  return out.join('\n') + '\n';
}

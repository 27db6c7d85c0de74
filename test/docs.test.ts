/**
 * Generated reference material stays true to its sources: docs/errors.md to
 * the error registry, man/ssdtune.1 and the bash/zsh completion scripts to
 * the command definitions. A stale file fails here with the command that
 * regenerates it; the completion scripts are exercised in the shells.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { errorDefinitions, EXIT } from '../src/errors.js';
import { renderErrorsMd } from '../src/cli/errors-doc.js';
import { bashCompletion, commandTree, manPage, zshCompletion, type CommandRef } from '../src/cli/reference.js';
import { buildProgram } from '../src/cli/program.js';
import { PROJECT_ROOT as ROOT } from '../src/native.js';
import { tempDir } from '../src/util/temp-dir.js';

const have = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;

function allCommands(c: CommandRef): CommandRef[] {
  return [c, ...c.subcommands.flatMap(allCommands)];
}

describe('docs/errors.md', () => {
  it('is what the error registry generates (else: npm run docs)', () => {
    const want = renderErrorsMd(readFileSync(path.join(ROOT, 'src', 'errors.ts'), 'utf8'));
    assert.equal(readFileSync(path.join(ROOT, 'docs', 'errors.md'), 'utf8'), want, 'docs/errors.md is stale: run `npm run build && npm run docs`');
  });

  it('documents every code with its exit code and HTTP status, and every exit code', () => {
    const md = readFileSync(path.join(ROOT, 'docs', 'errors.md'), 'utf8');
    for (const d of errorDefinitions()) {
      const row = md.split('\n').find((l) => l.startsWith(`| \`${d.code}\` |`));
      assert.ok(row, `${d.code} is documented`);
      assert.match(row, new RegExp(`^\\| \`${d.code}\` \\| ${d.exitCode} \\(\\w+\\) \\| ${d.status} \\|`));
    }
    for (const [name, code] of Object.entries(EXIT)) assert.match(md, new RegExp(`^\\| ${code} \\| ${name} \\| \\S`, 'm'));
  });
});

describe('man page', () => {
  const program = buildProgram();
  const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

  it('is what the command definitions generate (else: npm run docs)', () => {
    assert.equal(
      readFileSync(path.join(ROOT, 'man', 'ssdtune.1'), 'utf8'),
      manPage(program, version),
      'man/ssdtune.1 is stale: run `npm run build && npm run docs`',
    );
  });

  it('names every command and option, and renders without a groff warning', { skip: have('groff') ? undefined : 'groff is not installed' }, () => {
    const page = manPage(program, version);
    for (const c of allCommands(commandTree(program))) {
      if (c.path.length > 1) assert.ok(page.includes(`.SS "${c.path.join(' ')} `), `${c.path.join(' ')} has a section`);
      for (const o of c.options) assert.ok(page.includes(o.names.at(-1)!.replace(/-/g, '\\-')), `${c.path.join(' ')} ${o.names.at(-1)}`);
    }
    const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z'], { input: page, encoding: 'utf8' });
    assert.equal(r.status, 0);
    assert.equal(r.stderr, '', 'groff warnings');
    const text = spawnSync('groff', ['-man', '-Tutf8'], { input: page, encoding: 'utf8' }).stdout.replace(/.\x08/g, '');
    assert.match(text, /EXIT STATUS/);
    assert.match(text, /ssdtune analyze/);
  });
});

describe('shell completion', () => {
  const program = buildProgram();
  const tree = commandTree(program);
  let dir: string;
  before(() => {
    dir = tempDir('ssdtune-completion-');
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** What bash's completion offers for the words typed so far (the last one being completed). */
  function bash(...words: string[]): string[] {
    const file = path.join(dir, 'ssdtune.bash');
    writeFileSync(file, bashCompletion(program));
    const script = `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _ssdtune; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = spawnSync('bash', ['--norc', '-c', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean);
  }

  it('bash: commands, subcommands, options, and option values from their choices', () => {
    assert.deepEqual(bash('ssdtune', '').sort(), tree.subcommands.map((c) => c.path[1]!).sort(), 'every command');
    assert.ok(bash('ssdtune', 'an').includes('analyze'));
    const analyze = tree.subcommands.find((c) => c.path[1] === 'analyze')!;
    assert.deepEqual(
      bash('ssdtune', 'analyze', '--').sort(),
      analyze.options
        .flatMap((o) => o.names)
        .filter((n) => n.startsWith('--'))
        .sort(),
    );
    const db = tree.subcommands.find((c) => c.subcommands.length > 0)!;
    assert.deepEqual(bash('ssdtune', db.path[1]!, '').sort(), db.subcommands.map((c) => c.path[2]!).sort(), `${db.path[1]} subcommands`);
    const withChoices = allCommands(tree).flatMap((c) => c.options.filter((o) => o.choices).map((o) => ({ c, o })))[0];
    if (withChoices) assert.deepEqual(bash(...withChoices.c.path, withChoices.o.names.at(-1)!, '').sort(), [...withChoices.o.choices!].sort());
    assert.deepEqual(bash('ssdtune', 'analyze', 'tra'), [], 'arguments fall back to file names (complete -o default)');
    assert.deepEqual(bash('ssdtune', 'completion', ''), ['bash', 'zsh'], 'an argument with fixed choices');
  });

  it('zsh: the script parses and registers _ssdtune for ssdtune', { skip: have('zsh') ? undefined : 'zsh is not installed' }, () => {
    const file = path.join(dir, '_ssdtune');
    writeFileSync(file, zshCompletion(program));
    assert.equal(spawnSync('zsh', ['-n', file]).status, 0, 'syntax');
    const r = spawnSync(
      'zsh',
      ['-f', '-c', `autoload -Uz compinit && compinit -u -D -d ${dir}/zcompdump; source ${file}; print -r -- $_comps[ssdtune]; whence -w _ssdtune_analyze`],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^_ssdtune\n_ssdtune_analyze: function\n$/);
    for (const c of allCommands(tree)) assert.ok(zshCompletion(program).includes(`_${c.path.join('_')}() {`), `${c.path.join(' ')} has a function`);
  });

  it('`ssdtune completion bash|zsh` prints the scripts', () => {
    const cli = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
    assert.equal(spawnSync(process.execPath, [cli, 'completion', 'bash'], { encoding: 'utf8' }).stdout, bashCompletion(program));
    assert.equal(spawnSync(process.execPath, [cli, 'completion', 'zsh'], { encoding: 'utf8' }).stdout, zshCompletion(program));
  });
});

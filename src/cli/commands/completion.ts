/** `ssdtune completion bash|zsh`: a completion script generated from the command definitions. */
import { Argument, type Command } from 'commander';
import { bashCompletion, zshCompletion } from '../reference.js';

export function register(program: Command): void {
  program
    .command('completion')
    .description('print a bash or zsh completion script for ssdtune (generated from its command definitions)')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .addHelpText(
      'after',
      '\nInstall:\n  ssdtune completion bash > /etc/bash_completion.d/ssdtune\n  ssdtune completion zsh > "${fpath[1]}/_ssdtune"   # then restart zsh',
    )
    .action((shell: 'bash' | 'zsh') => {
      // the root command: the script covers every command, this one included
      let root = program;
      while (root.parent) root = root.parent;
      process.stdout.write(shell === 'bash' ? bashCompletion(root) : zshCompletion(root));
    });
}

/**
 * A progress bar on stderr, drawn only when stderr is a terminal (so pipes,
 * CI logs and --json output stay clean). Redraws at most 10 times a second.
 */
export interface Progress {
  update(done: number, total: number): void;
  done(): void;
}

const SILENT: Progress = { update() {}, done() {} };

export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return SILENT;
  let last = 0;
  const start = Date.now();
  const draw = (done: number, total: number): void => {
    const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - label.length - 30));
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const filled = Math.round(frac * width);
    const secs = ((Date.now() - start) / 1000).toFixed(1);
    const pct = total > 0 ? `${(frac * 100).toFixed(0).padStart(3)}%` : '   ?';
    stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct} ${secs}s`);
  };
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      draw(done, total);
    },
    done() {
      stream.write('\r\x1b[K');
    },
  };
}

// Runs a scenario in a child Node process, for what must be observed from
// outside: an abort, a hang, an exit status. The child's code can require the
// library's TypeScript sources (ROOT + '/lib'); code for a Worker it starts
// must first require REGISTER_TS itself.
import { spawnSync } from 'child_process';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '../..');
export const REGISTER_TS = path.join(__dirname, 'register-ts.js');

export interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

export function runChild(source: string, opts: { timeoutMs?: number; args?: string[] } = {}): ChildResult {
  const start = Date.now();
  const r = spawnSync(process.execPath, [...(opts.args ?? []), '-r', REGISTER_TS, '-e', source], {
    cwd: ROOT, encoding: 'utf8', timeout: opts.timeoutMs ?? 30000, killSignal: 'SIGKILL',
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, elapsedMs: Date.now() - start };
}

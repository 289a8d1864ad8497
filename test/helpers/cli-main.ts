// The CLI from its TypeScript source in a child process, for tests of what
// must not run in the test worker itself (an endless read, the process's own
// exit status):
//   node scripts/run-example.js test/helpers/cli-main.ts <cli arguments>
import { main as cliMain } from '../../lib/cli';

export function main(): Promise<number> {
  return cliMain(process.argv.slice(3));
}

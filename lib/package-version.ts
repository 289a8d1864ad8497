// node-kvm's own version, for --version texts.
import * as fs from 'fs';
import * as path from 'path';

/** The version in package.json, which sits one level above both lib/ and dist/. */
export function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

// TLS files named in xDS are read only inside the allowed directories: no path, '..' or symbolic link leads out.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readTlsFile, setTlsFileDirs } from '../../src/proxy/tls/tls-files.ts';

test('only files inside the TLS directories are read', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'weft-tls-files-'));
  t.after(async () => {
    setTlsFileDirs(undefined);
    await rm(root, { recursive: true, force: true });
  });
  const certs = join(root, 'certs');
  const other = join(root, 'certs-other');
  await mkdir(certs);
  await mkdir(other);
  await writeFile(join(certs, 'ca.pem'), 'PEM');
  await writeFile(join(other, 'token'), 'SECRET');
  await symlink(join(other, 'token'), join(certs, 'link.pem'));
  setTlsFileDirs([certs]);

  assert.deepEqual(readTlsFile(join(certs, 'ca.pem')), { pem: 'PEM' });
  for (const path of [
    join(other, 'token'),
    `${certs}/../certs-other/token`,
    join(certs, 'link.pem'),
    '/etc/passwd',
    '/proc/self/environ',
  ]) {
    const read = readTlsFile(path);
    assert.ok('error' in read, `${path} was read`);
    assert.match(read.error, /outside the directories TLS files are read from/, path);
    assert.doesNotMatch(read.error, /SECRET/);
  }
  const relative = readTlsFile('certs/ca.pem');
  assert.ok('error' in relative && /not an absolute path/.test(relative.error));
});

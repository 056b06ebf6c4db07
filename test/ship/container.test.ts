// The container image, without a Docker engine (none runs on the project's machines): the test
// checks the Dockerfile's load-bearing lines, assembles the same production tree its build stage
// assembles (container/assemble.sh: npm ci --omit=dev + the compiled dist), and runs that tree
// the way the pod runs the image — as uid/gid 1000 with no capabilities, on a read-only root
// file system where only the mounted volume and the temp dir are writable (a private mount
// namespace: `unshare --mount` + a read-only remount of /). What it cannot exercise is the base
// image itself (node:<.node-version>-bookworm-slim); .ci/run runs the tests on that same Node version.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chownSync, chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parse as parseIni } from 'ini';
import { adminS3, labEnv, requireLab, tempBucket } from '../helpers/lab.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCKERFILE = readFileSync(join(ROOT, 'container/Dockerfile'), 'utf8');
const UID = 1000;

interface Stage { from: string; lines: string[] }
function stages(dockerfile: string): Stage[] {
  const logical = dockerfile.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const out: Stage[] = [];
  for (const line of logical) {
    if (/^FROM /i.test(line)) out.push({ from: line.slice(5).trim(), lines: [] });
    else out.at(-1)?.lines.push(line);
  }
  return out;
}

/** Root is needed for the mount namespace and for dropping to uid 1000 (CI runs as root). */
function requireRoot(t: TestContext): void {
  if (process.getuid?.() === 0) return;
  if (process.env.CI === 'true') throw new Error('the container test must run as root under CI=true (unshare + setpriv)');
  t.skip('not root: cannot drop to uid 1000 in a read-only mount namespace');
}

/** Run argv as uid/gid 1000, no capabilities, root file system read-only except `writable`. */
function asPodUser(argv: string[], env: NodeJS.ProcessEnv, writable: string[], cwd: string) {
  const binds = writable.map((_, i) => `mount --bind "$W${i}" "$W${i}" && `).join('');
  const script = `${binds}mount -o remount,bind,ro / && exec setpriv --reuid=${UID} --regid=${UID} --clear-groups --inh-caps=-all --no-new-privs "$@"`;
  const wenv = Object.fromEntries(writable.map((w, i) => [`W${i}`, w]));
  return run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', ...argv], { env: { ...env, ...wenv }, cwd, timeout: 120_000 })
    .then((r) => ({ code: 0, ...r }), (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));
}

test('the Dockerfile builds and runs on the Node version in .node-version, the one CI tests on', () => {
  const nodeVersion = readFileSync(join(ROOT, '.node-version'), 'utf8').trim();
  assert.match(nodeVersion, /^\d+\.\d+\.\d+$/, '.node-version is an exact version');
  const arg = /^ARG NODE_VERSION=(\S+)$/m.exec(DOCKERFILE);
  assert.equal(arg?.[1], nodeVersion, "the Dockerfile's ARG NODE_VERSION is .node-version's");
  const froms = stages(DOCKERFILE).map((s) => s.from);
  assert.deepEqual(froms, ['node:${NODE_VERSION}-bookworm AS build', 'node:${NODE_VERSION}-bookworm-slim'], 'both stages use it');
  assert.match(readFileSync(join(ROOT, '.ci/run'), 'utf8'), /node@\$want/, '.ci/run installs that version');
});

test('the Dockerfile builds with full Node, runs on Node slim as uid 1000 with entrypoint s3-sidecar, from the assembled tree', () => {
  const [build, runtime, ...more] = stages(DOCKERFILE);
  assert.equal(more.length, 0, 'two stages');
  assert.match(build!.from, /^node:\$\{NODE_VERSION\}-bookworm AS build$/);
  assert.ok(build!.lines.includes('RUN npm run build'), 'build stage compiles');
  assert.ok(build!.lines.includes('RUN sh container/assemble.sh /src /app'), 'build stage assembles with the script this test runs');
  assert.match(runtime!.from, /^node:\$\{NODE_VERSION\}-bookworm-slim$/);
  assert.ok(runtime!.lines.includes('COPY --from=build /app /app'), 'runtime gets only the assembled tree');
  assert.ok(runtime!.lines.some((l) => l.includes('ln -s /app/dist/cli.js /usr/local/bin/s3-sidecar')));
  assert.ok(runtime!.lines.includes('USER 1000:1000'));
  assert.ok(runtime!.lines.includes('ENTRYPOINT ["s3-sidecar"]'));
  assert.ok(!runtime!.lines.some((l) => /^(RUN|COPY).*\b(npm ci|npm install)\b/.test(l)), 'no package installs in the runtime stage');
  // the scripts `npm run build` runs after tsc (the bundler) must be copied in, or the build fails
  const buildScript = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { build: string } }).scripts.build;
  const buildFiles = [...buildScript.matchAll(/\bnode (\S+)/g)].map((m) => m[1]!);
  assert.ok(buildFiles.length > 0, 'npm run build runs the bundler');
  for (const file of buildFiles) assert.ok(build!.lines.includes(`COPY ${file} ./${file}`), `the build stage copies ${file}`);
  const ignore = readFileSync(join(ROOT, 'container/Dockerfile.dockerignore'), 'utf8');
  for (const copied of ['package.json', 'package-lock.json', 'tsconfig.json', 'src/', 'container/assemble.sh', ...buildFiles]) assert.match(ignore, new RegExp(`^!${copied.replaceAll('.', '\\.')}$`, 'm'), `${copied} is in the build context`);
});

test('the production tree runs --help and a real `credentials --once` as uid 1000 on a read-only root', async (t) => {
  requireRoot(t);
  const lab = requireLab(t);
  const work = mkdtempSync(join(tmpdir(), 'ship-container-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  chmodSync(work, 0o755);
  const app = join(work, 'app');

  // The same assembly as the image's build stage, from the dist `npm test` just built.
  await run('sh', [join(ROOT, 'container/assemble.sh'), ROOT, app], { timeout: 300_000 });
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  for (const dep of Object.keys(pkg.dependencies)) assert.ok(statSync(join(app, 'node_modules', dep)).isDirectory(), `runtime dependency ${dep} shipped`);
  // a dev dependency that a runtime one also needs (the lock file does not mark it "dev") ships anyway
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  for (const dep of Object.keys(pkg.devDependencies).filter((d) => lock.packages[`node_modules/${d}`]?.dev)) {
    assert.throws(() => statSync(join(app, 'node_modules', dep)), `dev dependency ${dep} not shipped`);
  }
  const du = await run('du', ['-sk', join(app, 'node_modules'), join(app, 'dist')]);
  const [modulesKiB, distKiB] = du.stdout.trim().split('\n').map((l) => Number(l.split('\t')[0]));
  t.diagnostic(`production tree: node_modules ${(modulesKiB! / 1024).toFixed(1)} MiB, dist ${(distKiB! / 1024).toFixed(2)} MiB`);
  assert.ok(modulesKiB! < 80 * 1024, 'production node_modules stays small (documented in docs/ship.md)');

  // What the pod mounts: a volume for the hand-offs and an emptyDir at /tmp; the rest is read-only.
  const bin = join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(join(app, 'dist/cli.js'), join(bin, 's3-sidecar'));
  const vol = join(work, 'aws');
  const tmp = join(work, 'tmp');
  for (const d of [vol, tmp]) { mkdirSync(d); chownSync(d, UID, UID); }
  const base = { PATH: `${bin}:${process.env.PATH}`, HOME: '/nonexistent', TMPDIR: tmp };

  const help = await asPodUser(['s3-sidecar', '--help'], base, [vol, tmp], app);
  assert.equal(help.code, 0, help.stderr);
  for (const mode of ['credentials', 'download', 'run', 'upload']) assert.match(help.stdout, new RegExp(`^  ${mode} `, 'm'));
  const modeHelp = await asPodUser(['s3-sidecar', 'credentials', '--help'], base, [vol, tmp], app);
  assert.match(modeHelp.stdout, /--http-addr <value>[\s\S]*env: SIDECAR_HTTP_ADDR/);

  // It really cannot write outside the volume and /tmp (so the check above means something).
  const ro = await asPodUser(['sh', '-c', `touch ${join(app, 'x')} || exit 9`], base, [vol, tmp], app);
  assert.equal(ro.code, 9, 'the app tree is read-only for the pod user');

  const bucket = await tempBucket(t, lab, 'ship-container');
  await adminS3(lab).send(new PutObjectCommand({ Bucket: bucket, Key: 'job/in/a.jpg', Body: 'jpeg' }));
  const credentialsFile = join(vol, 'credentials');
  const env = labEnv(lab, {
    ...base,
    AWS_ACCESS_KEY_ID: lab.accessKey,
    AWS_SECRET_ACCESS_KEY: lab.secretKey,
    SIDECAR_ASSUME_ROLE_ARN: lab.roleArn,
    S3_INPUT_PREFIX: `s3://${bucket}/job/in/`,
    S3_OUTPUT_PREFIX: `s3://${bucket}/job/out/`,
    SIDECAR_CREDENTIALS_FILE: credentialsFile,
  });
  const once = await asPodUser(['s3-sidecar', 'credentials', '--once'], env, [vol, tmp], app);
  assert.equal(once.code, 0, `credentials --once failed:\n${once.stdout}\n${once.stderr}`);
  const st = statSync(credentialsFile);
  assert.equal(st.uid, UID, 'written by the pod user');
  assert.equal(st.mode & 0o777, 0o600);
  assert.doesNotMatch(once.stdout + once.stderr, new RegExp(lab.secretKey));

  // The written session works inside its prefix and nowhere else.
  const profile = parseIni(readFileSync(credentialsFile, 'utf8')).default as Record<string, string>;
  assert.match(profile.aws_session_token ?? '', /.{20}/, 'a session token (STS), not the base keys');
  const s3 = new S3Client({ endpoint: lab.endpoint, region: lab.region, forcePathStyle: true, credentials: { accessKeyId: profile.aws_access_key_id!, secretAccessKey: profile.aws_secret_access_key!, sessionToken: profile.aws_session_token } });
  t.after(() => s3.destroy());
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'job/in/' }));
  assert.deepEqual(listed.Contents?.map((o) => o.Key), ['job/in/a.jpg']);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'job/out/ok.txt', Body: 'x' }));
  await assert.rejects(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'elsewhere.txt', Body: 'x' })), /AccessDenied|Forbidden/);

  // A download whose MD5 runs on the worker thread (objects over 1 MiB), with each MD5: the worker
  // files start from the shipped tree, beside the bundled code (scripts/bundle.mjs).
  const big = Buffer.alloc(3 * 1024 * 1024, 'odm');
  await adminS3(lab).send(new PutObjectCommand({ Bucket: bucket, Key: 'job/in/big.tif', Body: big }));
  for (const md5 of ['simd', 'crypto']) {
    const into = join(vol, `in-${md5}`);
    const dl = await asPodUser(['s3-sidecar', 'download', '--input-prefix', `s3://${bucket}/job/in/`, '--input-dir', into],
      { ...env, SIDECAR_MD5: md5 }, [vol, tmp], app);
    assert.equal(dl.code, 0, `download (${md5}) failed:\n${dl.stdout}\n${dl.stderr}`);
    assert.ok(readFileSync(join(into, 'big.tif')).equals(big), `big.tif (${md5}) byte for byte`);
    assert.doesNotMatch(dl.stdout, /MD5 worker failed/, `the ${md5} worker started from the shipped tree`);
  }
});

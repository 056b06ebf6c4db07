// examples/ cannot drift from the code: every manifest passes its Kubernetes / Argo schema, every
// s3-sidecar command line and variable goes through the real config parser and source selection,
// the hand-off wiring between sidecar and main container is consistent, and the IAM examples
// allow what the sidecar's own session policy asks for. No cluster runs here; the EKS webhook's
// documented injection (AWS_ROLE_ARN + token file, honouring skip-containers) is modelled below.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, isMode, loadConfig, OPTIONS, optionsFor, type Config, type Mode } from '../../src/config.js';
import type { OptionDef } from '../../src/config/define.js';
import { claimsFrom, fillTemplate, matchRule } from '../../src/broker/claims.js';
import { parseBrokerConfig } from '../../src/broker/config.js';
import { selectSource } from '../../src/credentials/select.js';
import { buildSessionPolicy } from '../../src/credentials/session-policy.js';
import { assertExposureAllowed, parseListenAddress } from '../../src/config/listen-address.js';
import { parseS3Uri } from '../../src/config/s3-uri.js';
import { envOf, exampleFiles, isSidecarImage, loadExample, podsOf, ROOT, validateKubernetes, volumeFor, type ContainerView, type ExampleDoc, type Obj, type PodView } from './example-pods.js';

process.env.SIDECAR_LOG_LEVEL ??= 'silent';
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const docs: ExampleDoc[] = exampleFiles().flatMap(loadExample);
const kube = docs.filter((d) => d.kind === 'kubernetes');
const pods: PodView[] = kube.flatMap(podsOf);

/**
 * EKS pod identity webhook: role + token file into every container not listed in skip-containers,
 * when the pod's ServiceAccount (shipped in the same file: that is the EKS example's cluster)
 * carries the role annotation.
 */
const EKS_TOKEN_FILE = '/var/run/secrets/eks.amazonaws.com/serviceaccount/token';
function webhookEnv(doc: ExampleDoc, c: ContainerView): Record<string, string> {
  if (doc.data.kind !== 'Job' && doc.data.kind !== 'Pod') return {};
  const spec = doc.data.kind === 'Job' ? doc.data.spec.template : doc.data;
  const sa = kube.find((d) => d.file === doc.file && d.data.kind === 'ServiceAccount' && d.data.metadata.name === spec.spec.serviceAccountName && d.data.metadata.namespace === doc.data.metadata.namespace);
  const role = sa?.data.metadata.annotations?.['eks.amazonaws.com/role-arn'] as string | undefined;
  const skip = String(spec.metadata?.annotations?.['eks.amazonaws.com/skip-containers'] ?? '').split(',').map((s) => s.trim());
  if (!role || skip.includes(c.c.name)) return {};
  return { AWS_ROLE_ARN: role, AWS_WEB_IDENTITY_TOKEN_FILE: EKS_TOKEN_FILE };
}

interface SidecarRun { doc: ExampleDoc; pod: PodView; view: ContainerView; mode: Mode; argv: string[]; env: Record<string, string>; config: Config; where: string }

const ENV_OWNERS = new Map<string, [string, OptionDef<unknown>][]>();
for (const [key, d] of Object.entries(OPTIONS) as [string, OptionDef<unknown>][]) for (const e of d.env) ENV_OWNERS.set(e, [...(ENV_OWNERS.get(e) ?? []), [key, d]]);

function sidecarRuns(): SidecarRun[] {
  return kube.flatMap((doc) => podsOf(doc).flatMap((pod) => pod.containers.filter(isSidecarImage).map((view): SidecarRun => {
    const where = `${pod.where} container ${view.c.name}`;
    assert.match(String(view.c.image), new RegExp(`:${VERSION.replace(/\./g, '\\.')}$`), `${where}: the image tag is this release (package.json ${VERSION})`);
    const argv = [...(view.c.command ?? []), ...(view.c.args ?? [])].map((a: unknown) => pod.expand(String(a)));
    assert.equal(argv[0], 's3-sidecar', `${where}: command starts with s3-sidecar (the emissary executor needs an explicit command)`);
    assert.ok(isMode(argv[1]), `${where}: "${argv[1]}" is a mode`);
    const mode = argv[1] as Mode;
    const env = { ...webhookEnv(doc, view), ...envOf(view, pod) };
    let config: Config;
    try {
      config = loadConfig(mode, argv.slice(2), env);
    } catch (err) {
      throw new Error(`${where}: ${(err as Error).message}`);
    }
    return { doc, pod, view, mode, argv, env, config, where };
  })));
}

test('every YAML and JSON file in examples/ parses, and every Kubernetes and Argo object passes its schema', () => {
  const files = exampleFiles();
  assert.ok(files.length >= 6, `examples found: ${files.join(', ')}`);
  for (const d of kube) validateKubernetes(d);
  const kinds = kube.map((d) => `${d.data.apiVersion}/${d.data.kind}`);
  for (const k of ['argoproj.io/v1alpha1/Workflow', 'batch/v1/Job', 'v1/ServiceAccount']) assert.ok(kinds.includes(k), `an example of ${k}`);
  assert.equal(docs.filter((d) => d.kind === 'iam').length, 3, 'trust policies (assume-role, web identity) + permission policy');
});

test('the schema check is not a rubber stamp: broken manifests are rejected', () => {
  const wf = structuredClone(kube.find((d) => d.data.kind === 'Workflow')!);
  wf.data.spec.templates[0].containerSet.containers[0].securityContext.runAsUser = 'one thousand';
  assert.throws(() => validateKubernetes(wf), /runAsUser must be integer/);
  const job = structuredClone(kube.find((d) => d.data.kind === 'Job')!);
  delete job.data.spec.template.spec.containers[0].name;
  assert.throws(() => validateKubernetes(job), /must have required property '?name'?/);
  assert.throws(() => validateKubernetes({ file: 'x.yaml', kind: 'kubernetes', data: { apiVersion: 'v1', kind: 'Secret' } }), /no schema wired for v1\/Secret/);
});

test('every s3-sidecar command line and variable is accepted by the real parser, in the mode that reads it', async () => {
  const runs = sidecarRuns();
  assert.ok(runs.length >= 5, `s3-sidecar containers found: ${runs.length}`);
  for (const r of runs) {
    const read = new Set(optionsFor(r.mode).map(([k]) => k));
    for (const name of Object.keys(r.env)) {
      const owners = ENV_OWNERS.get(name);
      if (name.startsWith('SIDECAR_')) assert.ok(owners, `${r.where}: ${name} is not an s3-sidecar variable`);
      if (owners) assert.ok(owners.some(([k]) => read.has(k as never)), `${r.where}: ${name} is ignored by the ${r.mode} mode`);
    }
    if (r.mode === 'broker') continue; // its own test below
    // The credential source the sidecar would pick builds without a missing-option error.
    try {
      await selectSource(r.config);
    } catch (err) {
      assert.fail(`${r.where}: ${err instanceof ConfigError ? err.message : String(err)}`);
    }
    for (const uri of r.config.inputPrefix) parseS3Uri(uri, `${r.where} input prefix`);
    if (r.config.outputPrefix) parseS3Uri(r.config.outputPrefix, `${r.where} output prefix`);
    for (const addr of [r.config.endpoint, r.config.httpAddr]) {
      if (addr) assertExposureAllowed(parseListenAddress(addr, r.where), r.config.endpointAllowRemote, r.where);
    }
    if (r.mode === 'download') assert.ok(r.config.inputDir && r.config.inputPrefix.length, `${r.where}: download needs an input dir and prefix`);
    if (r.mode === 'run' || r.mode === 'upload') assert.ok(r.config.outputDir && r.config.outputPrefix, `${r.where}: ${r.mode} needs an output dir and prefix`);
    if (r.mode === 'credentials') assert.ok(r.config.endpoint || r.config.credentialsFile || r.config.processFile, `${r.where}: credentials mode hands off somewhere`);
  }
});

test('main containers get credentials only from the sidecar: endpoint and token file match, no static keys anywhere', () => {
  let consumers = 0;
  for (const pod of pods) {
    const served = sidecarRuns().filter((r) => r.pod.where === pod.where && r.config.endpoint && r.view.role !== 'init');
    for (const view of pod.containers) {
      const env = envOf(view, pod);
      for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) assert.ok(!(name in env), `${pod.where} ${view.c.name}: no static ${name}`);
      assert.ok(!(view.c.envFrom ?? []).some((f: Obj) => f.secretRef), `${pod.where} ${view.c.name}: no env from Secrets`);
      const uri = env.AWS_CONTAINER_CREDENTIALS_FULL_URI;
      if (!uri || isSidecarImage(view)) continue;
      consumers++;
      assert.ok(!('AWS_CONTAINER_AUTHORIZATION_TOKEN' in env), `${view.c.name}: set only the token FILE variable (SDKs disagree on precedence)`);
      const url = new URL(uri);
      assert.equal(url.hostname, '127.0.0.1', `${view.c.name}: loopback (every SDK accepts http to 127.0.0.1)`);
      const server = served.find((r) => parseListenAddress(r.config.endpoint!, 'x').port === Number(url.port));
      assert.ok(server, `${pod.where} ${view.c.name}: a long-running s3-sidecar in the pod serves port ${url.port}`);
      const tokenFile = env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE;
      assert.ok(tokenFile, `${view.c.name}: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE set`);
      const theirs = volumeFor(server.config.endpointTokenFile!, server.view, pod);
      const ours = volumeFor(tokenFile, view, pod);
      assert.ok(theirs && ours && theirs.volume.name === ours.volume.name, `${view.c.name}: the token file is on the sidecar's volume`);
      assert.equal(tokenFile.slice(ours.mount.mountPath.length), server.config.endpointTokenFile!.slice(theirs.mount.mountPath.length), `${view.c.name}: the same file the sidecar writes`);
      assert.equal(ours.mount.readOnly, true, `${view.c.name}: mounts the credentials volume read-only`);
    }
  }
  assert.ok(consumers >= 3, 'each example shows a main container using the endpoint');
});

test('files with secrets live on memory-backed volumes mounted as directories (never subPath)', () => {
  for (const r of sidecarRuns()) {
    for (const key of ['credentialsFile', 'processFile', 'awsEnvFile', 'configFile', 'endpointTokenFile'] as const) {
      const path = (r.config as Record<string, unknown>)[key];
      if (typeof path !== 'string') continue;
      const vm = volumeFor(path, r.view, r.pod);
      assert.ok(vm, `${r.where}: ${path} is on a mounted volume (the root file system is read-only)`);
      assert.equal(vm.volume.emptyDir?.medium, 'Memory', `${r.where}: ${path} is on an emptyDir with medium: Memory`);
      assert.ok(!vm.mount.subPath, `${r.where}: the volume holding ${path} is mounted as a directory`);
    }
  }
  for (const pod of pods) for (const view of pod.containers) {
    for (const m of view.mounts) {
      const v = pod.volumes.find((x) => x.name === m.name);
      if (v?.emptyDir?.medium === 'Memory') assert.ok(!m.subPath, `${pod.where} ${view.c.name}: no subPath on ${m.name}`);
    }
  }
});

test('security context as ScaleODM runs it: non-root (uid 1000 where fixed), read-only root, no privilege escalation, ALL capabilities dropped', () => {
  for (const pod of pods) {
    const psc = pod.securityContext ?? {};
    assert.equal(psc.runAsNonRoot, true, `${pod.where}: runAsNonRoot`);
    assert.equal(psc.seccompProfile?.type, 'RuntimeDefault', `${pod.where}: seccomp RuntimeDefault`);
    if (psc.runAsUser !== undefined) assert.equal(psc.runAsUser, 1000, `${pod.where}: uid 1000, the image's USER`);
    for (const view of pod.containers) {
      const sc = view.c.securityContext ?? {};
      assert.equal(sc.allowPrivilegeEscalation, false, `${pod.where} ${view.c.name}: allowPrivilegeEscalation false`);
      assert.equal(sc.readOnlyRootFilesystem, true, `${pod.where} ${view.c.name}: readOnlyRootFilesystem`);
      assert.ok(sc.capabilities?.drop?.includes('ALL'), `${pod.where} ${view.c.name}: drop ALL`);
      assert.ok(!sc.privileged && !sc.capabilities?.add?.length, `${pod.where} ${view.c.name}: nothing added back`);
    }
  }
});

test('probes use the shipped exec probe against the listener the container configures', () => {
  assert.ok(existsSync(join(ROOT, 'dist/health/probe.js')), 'dist/health/probe.js is built (the image has it at /app/dist/health/probe.js)');
  let probed = 0;
  for (const r of sidecarRuns()) {
    for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
      const probe = r.view.c[kind] as Obj | undefined;
      if (!probe) continue;
      probed++;
      assert.ok(!probe.httpGet && !probe.tcpSocket, `${r.where} ${kind}: the kubelet cannot reach a loopback listener; use the exec probe`);
      const [node, script, path] = probe.exec.command as string[];
      assert.equal(node, 'node');
      assert.ok(script!.startsWith('/app/') && existsSync(join(ROOT, script!.slice('/app/'.length))), `${r.where} ${kind}: ${script} exists in the image`);
      assert.ok(['/readyz', '/healthz'].includes(path!), `${r.where} ${kind}: ${path}`);
      assert.ok(r.config.httpAddr, `${r.where} ${kind}: SIDECAR_HTTP_ADDR set, so there is a listener to probe`);
    }
    if (r.view.role === 'native-sidecar') assert.ok(r.view.c.startupProbe, `${r.where}: a native sidecar holds the main container back until /readyz passes`);
  }
  assert.ok(probed >= 4);
});

test('the final pass fits the pod grace period (--grace-period < terminationGracePeriodSeconds)', () => {
  for (const r of sidecarRuns().filter((x) => x.mode === 'run')) {
    const podGraceMs = (r.pod.terminationGracePeriodSeconds ?? 30) * 1000;
    assert.ok(r.config.gracePeriod < podGraceMs, `${r.where}: --grace-period ${r.config.gracePeriod} ms < pod grace ${podGraceMs} ms`);
  }
});

test('the shapes the issue asks for: ScaleODM Argo containerSet, IRSA native sidecar, OpenShift web identity', async () => {
  const runs = sidecarRuns();
  // Argo: download --layout odm into /workspace/<job>, ODM, run --preset odm on the same dir, control plane + projected token.
  const argo = runs.filter((r) => r.doc.data.kind === 'Workflow');
  const dl = argo.find((r) => r.mode === 'download');
  const up = argo.find((r) => r.mode === 'run');
  assert.ok(dl && up, 'Argo: a download and a run container');
  assert.equal(dl.config.layout, 'odm');
  assert.match(dl.config.inputDir!, /^\/workspace\/odm-pipeline-x7k2q$/);
  assert.equal(up.config.preset, 'odm');
  assert.equal(up.config.outputDir, dl.config.inputDir, 'the uploader watches the ODM project dir the download filled');
  const odm = up.pod.containers.find((v) => /(^|\/)opendronemap\/odm:/.test(v.c.image));
  assert.ok(odm, 'Argo: an opendronemap/odm container');
  assert.deepEqual(odm.c.dependencies, ['download']);
  assert.deepEqual(up.view.c.dependencies, ['download'], 'the uploader starts with ODM, not after it');
  for (const r of [dl, up]) {
    assert.equal((await selectSource(r.config)).name, 'control-plane', `${r.where}: credentials from the control plane`);
    const token = volumeFor(r.config.controlPlaneTokenFile!, r.view, r.pod);
    assert.ok(token?.volume.projected?.sources?.some((s: Obj) => s.serviceAccountToken?.audience), `${r.where}: token from a projected, audience-bound service-account token`);
  }
  assert.ok(up.config.credentialsFile && up.config.endpoint, 'Argo: credentials file and endpoint for ODM');

  // Kubernetes: native sidecar with web identity (IRSA via the webhook) ...
  const irsa = runs.find((r) => r.doc.data.kind === 'Job' && r.view.role === 'native-sidecar' && r.env.AWS_WEB_IDENTITY_TOKEN_FILE === EKS_TOKEN_FILE);
  assert.ok(irsa, 'a Job whose native sidecar gets IRSA credentials');
  assert.equal(irsa.mode, 'run');
  const irsaMain = irsa.pod.containers.find((v) => v.role === 'main')!;
  assert.deepEqual(webhookEnv(irsa.doc, irsaMain), {}, 'the main container is skipped by the webhook: it only has the scoped credentials');
  // ... and the OpenShift variant with its own projected token.
  const os = runs.find((r) => r.view.role === 'native-sidecar' && r.env.AWS_WEB_IDENTITY_TOKEN_FILE?.startsWith('/var/run/secrets/openshift/'));
  assert.ok(os, 'an OpenShift-style web-identity sidecar');
  const osToken = volumeFor(os.config.webIdentityTokenFile!, os.view, os.pod);
  assert.equal(osToken?.volume.projected?.sources?.[0]?.serviceAccountToken?.audience, 'openshift');
});

test('the broker example: its configuration passes the broker\'s own parser, TLS on a non-loopback listener, and the job pod it serves matches a rule', () => {
  const brokers = sidecarRuns().filter((r) => r.mode === 'broker');
  assert.equal(brokers.length, 1, 'one broker Deployment');
  const b = brokers[0]!;
  assert.equal(b.doc.data.kind, 'Deployment');
  const configFile = b.config.brokerConfig!;
  const mounted = volumeFor(configFile, b.view, b.pod);
  assert.ok(mounted?.volume.configMap, `${b.where}: --config is on a ConfigMap volume, mounted as a directory (reloads follow its updates)`);
  assert.ok(!mounted.mount.subPath, 'no subPath: a subPath mount never sees ConfigMap updates');
  const cm = kube.find((d) => d.data.kind === 'ConfigMap' && d.data.metadata.name === mounted.volume.configMap.name && d.data.metadata.namespace === b.doc.data.metadata.namespace);
  assert.ok(cm, 'the ConfigMap is in the example');
  const rules = parseBrokerConfig(cm.data.data[configFile.slice(mounted.mount.mountPath.length + 1)], { allowHttpIssuer: b.config.allowHttpIssuer });
  assert.ok(rules.issuers.length >= 2, 'two clusters');
  assert.ok(!parseListenAddress(b.config.brokerListen, 'x').loopback && b.config.tlsCert && b.config.tlsKey, 'reachable from other pods, so HTTPS');
  for (const f of [b.config.tlsCert!, b.config.tlsKey!]) assert.ok(volumeFor(f, b.view, b.pod)?.volume.secret, `${f} is on a Secret volume`);
  assert.ok(b.config.roleArn && volumeFor(b.config.webIdentityTokenFile!, b.view, b.pod)?.volume.projected, "the broker's own identity: web identity with a projected token");
  const svc = kube.find((d) => d.data.kind === 'Service' && d.data.metadata.name === 's3-sidecar-broker')!;
  assert.deepEqual(svc.data.spec.selector, b.doc.data.spec.template.metadata.labels, 'the Service selects the broker pods');

  // the job pod: its sidecar's URL is the Service, its token has the broker's audience, a rule admits it
  const served = sidecarRuns().filter((r) => r.config.controlPlaneUrl && new URL(r.config.controlPlaneUrl).hostname.startsWith(`${svc.data.metadata.name}.${svc.data.metadata.namespace}.svc`));
  assert.ok(served.length >= 1, 'a pod served by the broker');
  for (const r of served) {
    const url = new URL(r.config.controlPlaneUrl!);
    assert.equal(url.protocol, 'https:');
    assert.equal(url.pathname, '/v1/credentials');
    assert.equal(Number(url.port || 443), svc.data.spec.ports[0].port);
    assert.ok(r.config.controlPlaneCaFile && volumeFor(r.config.controlPlaneCaFile, r.view, r.pod), 'the CA that signed the broker certificate is mounted');
    const token = volumeFor(r.config.controlPlaneTokenFile!, r.view, r.pod)?.volume.projected?.sources?.[0]?.serviceAccountToken;
    const ns = r.doc.data.metadata.namespace as string;
    const sa = r.doc.data.spec.template.spec.serviceAccountName as string;
    const issuer = rules.issuers.find((i) => i.audience.includes(token?.audience))!;
    assert.ok(issuer, `${r.where}: the projected token's audience (${token?.audience}) is one the broker accepts`);
    const claims = claimsFrom(issuer.name, { sub: `system:serviceaccount:${ns}:${sa}`, 'kubernetes.io': { namespace: ns, pod: { name: `${r.doc.data.metadata.name}-x7k2q`, uid: 'u' }, serviceaccount: { name: sa } } });
    const rule = matchRule(rules.rules, claims);
    assert.ok(rule, `${r.where}: a rule admits ${ns}/${sa}`);
    const policy = buildSessionPolicy({ inputPrefixes: rule.input.map((x) => fillTemplate(x, claims)), outputPrefix: rule.output && fillTemplate(rule.output, claims), readOnly: rule.readOnly });
    for (const st of JSON.parse(policy!).Statement as Obj[]) for (const action of asList(st.Action)) for (const resource of asList(st.Resource)) {
      assert.ok(allows(iam('permission-policy.json'), action, resource, st.Condition?.StringLike?.['s3:prefix']), `rule ${rule.name}: the role allows ${action} on ${resource}`);
    }
  }
});

test('a store without STS: the static key is a Secret mounted into the s3-sidecar containers only', async () => {
  const runs = sidecarRuns().filter((r) => r.config.s3Provider === 'garage');
  assert.ok(runs.length >= 2, 'the Garage example: a download and a run container');
  for (const r of runs) {
    assert.equal((await selectSource(r.config)).name, 'chain', `${r.where}: the key comes from the chain (a shared credentials file)`);
    const key = volumeFor(r.env.AWS_SHARED_CREDENTIALS_FILE!, r.view, r.pod);
    assert.ok(key?.volume.secret?.secretName, `${r.where}: the credentials file is on a Secret volume`);
    for (const other of r.pod.containers.filter((v) => !isSidecarImage(v))) {
      assert.ok(!other.mounts.some((m) => m.name === key.volume.name), `${r.pod.where} ${other.c.name}: does not mount the key`);
      assert.ok(!('AWS_SHARED_CREDENTIALS_FILE' in envOf(other, r.pod)), `${r.pod.where} ${other.c.name}: no credentials file of its own`);
    }
  }
  assert.ok(runs.some((r) => r.mode === 'run' && r.config.endpoint), 'the long-running sidecar serves the endpoint');
});

// ---- IAM ----

function iam(name: string): Obj {
  const d = docs.find((x) => x.file === `examples/iam/${name}`);
  assert.ok(d, `examples/iam/${name}`);
  return d.data;
}
const asList = (x: unknown): string[] => (Array.isArray(x) ? x.map(String) : [String(x)]);
const glob = (pattern: string, flags = '') => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, flags);

/** Does an Allow statement of `policy` grant `action` on `resource` (with these s3:prefix values)? */
function allows(policy: Obj, action: string, resource: string, prefixes: string[] | undefined): boolean {
  return (policy.Statement as Obj[]).some((s) => {
    if (s.Effect !== 'Allow') return false;
    if (!asList(s.Action).some((a) => glob(a, 'i').test(action))) return false;
    if (!asList(s.Resource).some((r) => glob(r).test(resource))) return false;
    const cond = s.Condition?.StringLike?.['s3:prefix'];
    if (!cond) return true;
    return prefixes !== undefined && prefixes.every((p) => asList(cond).some((c) => glob(c).test(p)));
  });
}

test('IAM examples are well-formed policy documents', () => {
  for (const d of docs.filter((x) => x.kind === 'iam')) {
    for (const s of d.data.Statement as Obj[]) {
      assert.ok(['Allow', 'Deny'].includes(s.Effect), `${d.file}: Effect`);
      for (const a of asList(s.Action)) assert.match(a, /^[a-z0-9-]+:[A-Za-z*?]+$/, `${d.file}: action ${a}`);
      const trust = d.file.includes('trust-policy');
      assert.equal(Boolean(s.Principal), trust, `${d.file}: Principal only in trust policies`);
      assert.equal(Boolean(s.Resource), !trust, `${d.file}: Resource only in permission policies`);
    }
  }
});

test('the trust policies admit exactly the service accounts and audiences the manifests use', () => {
  const trust = iam('trust-policy-web-identity.json');
  const sa = kube.find((d) => d.data.kind === 'ServiceAccount')!.data;
  const subject = `system:serviceaccount:${sa.metadata.namespace}:${sa.metadata.name}`;
  const audiences = (trust.Statement as Obj[]).map((s) => {
    assert.equal(s.Action, 'sts:AssumeRoleWithWebIdentity');
    const eq = s.Condition.StringEquals as Record<string, string>;
    const sub = Object.entries(eq).find(([k]) => k.endsWith(':sub'))?.[1];
    assert.equal(sub, subject, 'the sub condition names the ServiceAccount of the manifests');
    assert.ok(Object.keys(eq).every((k) => k.startsWith(String(s.Principal.Federated).split('oidc-provider/')[1]!)), 'conditions use the provider they trust');
    return Object.entries(eq).find(([k]) => k.endsWith(':aud'))![1];
  });
  assert.deepEqual(audiences.sort(), ['openshift', 'sts.amazonaws.com']);
  // (the broker's own role is not a job's: it only assumes the job roles)
  const roles = new Set([sa.metadata.annotations['eks.amazonaws.com/role-arn'], ...sidecarRuns().filter((r) => r.mode !== 'broker').map((r) => r.env.AWS_ROLE_ARN).filter(Boolean)]);
  assert.equal(roles.size, 1, `one role for both variants: ${[...roles].join(', ')}`);
  const assume = iam('trust-policy-assume-role.json');
  assert.ok((assume.Statement as Obj[]).every((s) => asList(s.Action).includes('sts:AssumeRole') && s.Principal.AWS));
});

test("the permission policy allows everything the sidecar's session policy asks for, for every example job", () => {
  const permission = iam('permission-policy.json');
  const runs = sidecarRuns().filter((r) => r.config.inputPrefix.length || r.config.outputPrefix);
  assert.ok(runs.length >= 5);
  for (const r of runs) {
    const policy = buildSessionPolicy({ inputPrefixes: r.config.inputPrefix, outputPrefix: r.config.outputPrefix, readOnly: r.config.readOnly, kmsKeyArn: r.config.kmsKeyArn });
    assert.ok(policy, `${r.where}: a session policy`);
    for (const s of JSON.parse(policy).Statement as Obj[]) {
      for (const action of asList(s.Action)) for (const resource of asList(s.Resource)) {
        assert.ok(allows(permission, action, resource, s.Condition?.StringLike?.['s3:prefix']), `${r.where}: the role allows ${action} on ${resource}`);
      }
    }
  }
  // and the check itself bites: outside the role's prefix nothing is granted
  assert.equal(allows(permission, 's3:GetObject', 'arn:aws:s3:::drone-imagery/other/*', undefined), false);
  assert.equal(allows(permission, 's3:ListBucket', 'arn:aws:s3:::drone-imagery', ['other/']), false);
  assert.equal(allows(permission, 's3:DeleteObject', 'arn:aws:s3:::drone-imagery/projects/x/images/a.jpg', undefined), false, 'inputs cannot be deleted or overwritten');
  assert.equal(allows(permission, 's3:PutObject', 'arn:aws:s3:::drone-imagery/projects/x/output/a.tif', undefined), true);
});

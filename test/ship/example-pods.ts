// Loading examples/: every YAML/JSON file parsed, Kubernetes and Argo objects validated against
// their schemas (kubernetes-models / @kubernetes-models/argo-workflows, generated from the
// upstream OpenAPI and Go types), and a uniform "pod" view of each so the tests can look at
// containers, env, mounts and security settings the same way for a Job and an Argo Workflow.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Workflow } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/Workflow';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Pod } from 'kubernetes-models/v1/Pod';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { parse, parseAllDocuments } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const EXAMPLES = join(ROOT, 'examples');

/** Kinds the examples may use; an example of another kind fails until it is added here. */
const MODELS: Record<string, { new (data: never): { validate(): void } }> = {
  'v1/Pod': Pod,
  'v1/ServiceAccount': ServiceAccount,
  'batch/v1/Job': Job,
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'argoproj.io/v1alpha1/Workflow': Workflow,
};

// The manifests are checked against schemas; here they are plain data.
/* eslint-disable @typescript-eslint/no-explicit-any */
export type Obj = Record<string, any>;

export interface ExampleDoc {
  file: string;
  kind: 'kubernetes' | 'iam';
  data: Obj;
}

export function exampleFiles(dir = EXAMPLES): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    // examples/monitoring holds a Grafana dashboard and Prometheus rules: test/ship/monitoring.test.ts checks them
    if (e.isDirectory()) return relative(ROOT, p) === 'examples/monitoring' ? [] : exampleFiles(p);
    return /\.(ya?ml|json)$/.test(e.name) ? [relative(ROOT, p)] : [];
  }).sort();
}

/** Parse one file into documents; throws on YAML/JSON errors and on documents of no known sort. */
export function loadExample(file: string): ExampleDoc[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const datas: Obj[] = file.endsWith('.json') ? [JSON.parse(text) as Obj] : parseAllDocuments(text).map((d) => {
    if (d.errors.length || d.warnings.length) throw new Error(`${file}: ${[...d.errors, ...d.warnings].map((e) => e.message).join('; ')}`);
    return d.toJS() as Obj;
  });
  return datas.map((data) => {
    if (data.apiVersion && data.kind) return { file, kind: 'kubernetes', data };
    if (data.Version === '2012-10-17' && Array.isArray(data.Statement)) return { file, kind: 'iam', data };
    throw new Error(`${file}: neither a Kubernetes object nor an IAM policy document`);
  });
}

/** Schema validation; throws with the validator's message (path + rule) on the first bad object. */
export function validateKubernetes(doc: ExampleDoc): void {
  const key = `${doc.data.apiVersion}/${doc.data.kind}`;
  const Model = MODELS[key];
  if (!Model) throw new Error(`${doc.file}: no schema wired for ${key} (add it to MODELS in test/ship/example-pods.ts)`);
  try {
    new Model(doc.data as never).validate();
  } catch (err) {
    throw new Error(`${doc.file}: ${key} ${doc.data.metadata?.name ?? doc.data.metadata?.generateName}: ${(err as Error).message}`);
  }
}

export type Role = 'init' | 'native-sidecar' | 'main' | 'argo-sidecar';

export interface ContainerView {
  role: Role;
  c: Obj;
  /** the container's own mounts plus, in a containerSet, the set's shared mounts */
  mounts: Obj[];
}

export interface PodView {
  where: string;
  securityContext: Obj | undefined;
  volumes: Obj[];
  terminationGracePeriodSeconds: number | undefined;
  containers: ContainerView[];
  /** Argo's {{workflow.*}} expressions replaced by sample values; identity for plain pods */
  expand(s: string): string;
}

const identity = (s: string) => s;

function podSpecView(where: string, spec: Obj, expand = identity, extra: Partial<PodView> = {}): PodView {
  const containers: ContainerView[] = [
    ...(spec.initContainers ?? []).map((c: Obj): ContainerView => ({ role: c.restartPolicy === 'Always' ? 'native-sidecar' : 'init', c, mounts: c.volumeMounts ?? [] })),
    ...(spec.containers ?? []).map((c: Obj): ContainerView => ({ role: 'main', c, mounts: c.volumeMounts ?? [] })),
  ];
  return { where, securityContext: spec.securityContext, volumes: spec.volumes ?? [], terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds, containers, expand, ...extra };
}

function argoExpander(wf: Obj): (s: string) => string {
  const params = Object.fromEntries(((wf.spec.arguments?.parameters ?? []) as Obj[]).map((p) => [p.name, String(p.value)]));
  return (s) => {
    const out = s
      .replace(/\{\{workflow\.name\}\}/g, 'odm-pipeline-x7k2q')
      .replace(/\{\{workflow\.parameters\.([\w-]+)\}\}/g, (m, name: string) => params[name] ?? m);
    if (out.includes('{{')) throw new Error(`unresolved Argo expression in "${s}"`);
    return out;
  };
}

/** Every pod an example would create (a Job's template, a Pod, each Argo template's pod). */
export function podsOf(doc: ExampleDoc): PodView[] {
  const d = doc.data;
  const where = `${doc.file} ${d.kind} ${d.metadata?.name ?? d.metadata?.generateName}`;
  switch (d.kind) {
    case 'Pod': return [podSpecView(where, d.spec)];
    case 'Job':
    case 'Deployment': return [podSpecView(where, d.spec.template.spec)];
    case 'Workflow': {
      const expand = argoExpander(d);
      const patch = d.spec.podSpecPatch ? (parse(d.spec.podSpecPatch) as Obj) : {};
      return (d.spec.templates as Obj[]).filter((t) => t.container || t.script || t.containerSet).map((t) => {
        const set: Obj[] = t.containerSet?.containers ?? [];
        const shared: Obj[] = t.containerSet?.volumeMounts ?? [];
        const containers: ContainerView[] = [
          ...(t.initContainers ?? []).map((c: Obj): ContainerView => ({ role: 'init', c, mounts: c.volumeMounts ?? [] })),
          ...[t.container, t.script].filter(Boolean).map((c: Obj): ContainerView => ({ role: 'main', c, mounts: c.volumeMounts ?? [] })),
          ...set.map((c): ContainerView => ({ role: 'main', c, mounts: [...shared, ...(c.volumeMounts ?? [])] })),
          ...(t.sidecars ?? []).map((c: Obj): ContainerView => ({ role: 'argo-sidecar', c, mounts: c.volumeMounts ?? [] })),
        ];
        return {
          where: `${where} template ${t.name}`,
          securityContext: t.securityContext ?? d.spec.securityContext,
          volumes: [...(d.spec.volumes ?? []), ...(t.volumes ?? []), ...(d.spec.volumeClaimTemplates ?? []).map((v: Obj) => ({ name: v.metadata.name, persistentVolumeClaim: {} }))],
          terminationGracePeriodSeconds: patch.terminationGracePeriodSeconds,
          containers,
          expand,
        };
      });
    }
    default: return [];
  }
}

/** The container's environment as the process would see it (valueFrom entries as placeholders). */
export function envOf(view: ContainerView, pod: PodView): Record<string, string> {
  return Object.fromEntries(((view.c.env ?? []) as Obj[]).map((e) => [e.name as string, e.valueFrom ? '<from-ref>' : pod.expand(String(e.value ?? ''))]));
}

/** The volume mounted at the directory holding `path` in this container, with the mount. */
export function volumeFor(path: string, view: ContainerView, pod: PodView): { mount: Obj; volume: Obj } | undefined {
  const mount = view.mounts
    .filter((m) => path === m.mountPath || path.startsWith(`${String(m.mountPath).replace(/\/$/, '')}/`))
    .sort((a, b) => String(b.mountPath).length - String(a.mountPath).length)[0];
  const volume = mount && pod.volumes.find((v) => v.name === mount.name);
  return mount && volume ? { mount, volume } : undefined;
}

export function isSidecarImage(view: ContainerView): boolean {
  return /(^|\/)s3-sidecar:/.test(String(view.c.image));
}

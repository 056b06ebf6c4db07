// Who the caller is, from a verified projected service-account token, and what follows from
// it: the first matching rule, the rule's prefixes with the caller's names filled in, the STS
// session name and session tags.
import picomatch from 'picomatch';
import type { Tag } from '@aws-sdk/client-sts';
import type { RuleConfig } from './config.js';

export interface Claims {
  /** name of the trusted issuer entry (the cluster) */
  issuer: string;
  sub: string;
  namespace?: string | undefined;
  serviceAccount?: string | undefined;
  pod?: string | undefined;
  podUid?: string | undefined;
}

export const TEMPLATE_FIELDS: readonly (keyof Claims)[] = ['issuer', 'namespace', 'serviceAccount', 'pod', 'podUid', 'sub'];

/**
 * Kubernetes puts `kubernetes.io: {namespace, pod: {name, uid}, serviceaccount: {name}}` in a
 * projected token; `sub` is `system:serviceaccount:<namespace>:<name>` and serves when the
 * nested claim is absent (other issuers).
 */
export function claimsFrom(issuer: string, payload: Record<string, unknown>): Claims {
  const sub = typeof payload.sub === 'string' ? payload.sub : '';
  const k8s = obj(payload['kubernetes.io']);
  const fromSub = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(sub);
  return {
    issuer,
    sub,
    namespace: str(k8s?.namespace) ?? fromSub?.[1],
    serviceAccount: str(obj(k8s?.serviceaccount)?.name) ?? fromSub?.[2],
    pod: str(obj(k8s?.pod)?.name),
    podUid: str(obj(k8s?.pod)?.uid),
  };
}

/** The identity rate limits and the cache are kept per: one pod of one cluster. */
export function callerKey(c: Claims): string {
  return JSON.stringify([c.issuer, c.sub, c.podUid ?? c.pod ?? '']);
}

/** How the caller reads in logs, e.g. `cluster-a/odm/odm-runner/pod-x`. */
export function callerName(c: Claims): string {
  return [c.issuer, c.namespace ?? c.sub, c.serviceAccount, c.pod].filter(Boolean).join('/');
}

const matchers = new WeakMap<RuleConfig, (c: Claims) => boolean>();

/** First rule whose issuer, namespace and service account (globs) all match. */
export function matchRule(rules: readonly RuleConfig[], c: Claims): RuleConfig | undefined {
  return rules.find((r) => {
    let m = matchers.get(r);
    if (!m) {
      const ns = r.namespace ? picomatch(r.namespace, { dot: true }) : undefined;
      const sa = r.serviceAccount ? picomatch(r.serviceAccount, { dot: true }) : undefined;
      m = (x) => (!r.issuer || r.issuer === x.issuer) && (!ns || (x.namespace !== undefined && ns(x.namespace))) && (!sa || (x.serviceAccount !== undefined && sa(x.serviceAccount)));
      matchers.set(r, m);
    }
    return m(c);
  });
}

export class TemplateError extends Error {}

/**
 * Fill `{field}` from the claims. A value that could widen a policy or climb out of its prefix
 * (`*`, `?`, `$`, `/`, `..`) is refused: names in Kubernetes never contain them, so one that
 * does is not what the rule's author meant.
 */
export function fillTemplate(template: string, c: Claims): string {
  return template.replace(/\{(\w+)\}/g, (_, field: string) => {
    const v = c[field as keyof Claims];
    if (!v) throw new TemplateError(`the token has no ${field} claim, which the rule's prefix ${template} needs`);
    if (!/^[\w.:@=+-]+$/.test(v) || v === '.' || v === '..') throw new TemplateError(`the token's ${field} "${v.slice(0, 80)}" has characters that cannot go into a prefix`);
    return v;
  });
}

/** RoleSessionName `<namespace>.<pod>` (STS: 2-64 characters of [\w+=,.@-]); the pod part kept whole when it must be cut. */
export function sessionName(c: Claims): string {
  const clean = (s: string) => s.replace(/[^\w+=,.@-]/g, '-');
  const tail = clean(c.pod ?? c.serviceAccount ?? c.sub).slice(-63);
  const head = clean(c.namespace ?? c.issuer).slice(0, Math.max(0, 63 - tail.length));
  const name = head ? `${head}.${tail}` : tail;
  return name.length >= 2 ? name : `${name}--`.slice(0, 2);
}

/** STS tag values: up to 256 characters of letters, digits, spaces and _.:/=+-@. */
const tagValue = (s: string) => s.replace(/[^\w .:/=+@-]/g, '-').slice(0, 256);

export function sessionTags(c: Claims): Tag[] {
  const tags: Tag[] = [{ Key: 's3-sidecar-broker', Value: 'true' }, { Key: 'issuer', Value: tagValue(c.issuer) }];
  if (c.namespace) tags.push({ Key: 'namespace', Value: tagValue(c.namespace) });
  if (c.serviceAccount) tags.push({ Key: 'service-account', Value: tagValue(c.serviceAccount) });
  if (c.pod) tags.push({ Key: 'pod', Value: tagValue(c.pod) });
  return tags;
}

const obj = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

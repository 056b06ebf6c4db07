// The broker's configuration file: trusted issuers (one per cluster) and the rules that map a
// caller to a role and its prefixes. Validated whole before use, so a typo is an error that
// names the rule and field at start (exit 2) or on reload (the old configuration is kept).
import { parse as parseYaml } from 'yaml';
import { isLoopbackHost } from '../config/listen-address.js';
import { buildSessionPolicy } from '../credentials/session-policy.js';
import { TEMPLATE_FIELDS, fillTemplate, type Claims } from './claims.js';

export interface IssuerConfig {
  /** short name used in rules, tags and logs */
  name: string;
  /** the tokens' `iss`; discovery at <issuer>/.well-known/openid-configuration */
  issuer: string;
  /** accepted `aud` values (one broker-specific audience, usually) */
  audience: string[];
  /** JWKS URL, skipping discovery (a cluster whose discovery document is not reachable) */
  jwksUri?: string | undefined;
}

export interface RuleConfig {
  /** name, or `#<index>` when the file gives none */
  name: string;
  issuer?: string | undefined;
  namespace?: string | undefined;
  serviceAccount?: string | undefined;
  roleArn: string;
  /** sts:ExternalId the role's trust policy asks for */
  externalId?: string | undefined;
  input: string[];
  output?: string | undefined;
  readOnly: boolean;
  kmsKeyArn?: string | undefined;
  durationSeconds: number;
}

export interface BrokerFileConfig {
  issuers: IssuerConfig[];
  rules: RuleConfig[];
}

/** A problem in the file, with where it is: `rules[1] "odm-jobs": roleArn: is required`. */
export class BrokerConfigError extends Error {
  constructor(readonly where: string, problem: string) {
    super(`${where}: ${problem}`);
    this.name = 'BrokerConfigError';
  }
}

export interface ParseOptions {
  /** --allow-http-issuer: plain http:// issuers other than loopback */
  allowHttpIssuer: boolean;
}

type Obj = Record<string, unknown>;
const ISSUER_KEYS = ['name', 'issuer', 'audience', 'jwksUri'];
const RULE_KEYS = ['name', 'issuer', 'namespace', 'serviceAccount', 'roleArn', 'externalId', 'input', 'output', 'readOnly', 'kmsKeyArn', 'durationSeconds'];
// 15 min is STS's floor; 12 h its ceiling (the role's MaxSessionDuration may be lower)
const MIN_DURATION = 900;
const MAX_DURATION = 43_200;

export function parseBrokerConfig(text: string, opts: ParseOptions): BrokerFileConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new BrokerConfigError('YAML', (err as Error).message.split('\n')[0]!);
  }
  if (!isObj(doc)) throw new BrokerConfigError('file', 'must be a mapping with `issuers` and `rules`');
  unknownKeys(doc, ['issuers', 'rules'], 'file');
  const issuerList = arrayOf(doc.issuers, 'issuers');
  const ruleList = arrayOf(doc.rules, 'rules');
  if (issuerList.length === 0) throw new BrokerConfigError('issuers', 'at least one issuer is required');
  if (ruleList.length === 0) throw new BrokerConfigError('rules', 'at least one rule is required');

  const issuers = issuerList.map((raw, i) => parseIssuer(raw, i, opts));
  const names = new Set<string>();
  const urls = new Set<string>();
  issuers.forEach((iss, i) => {
    if (names.has(iss.name)) throw new BrokerConfigError(`issuers[${i}] "${iss.name}"`, 'name: used twice');
    if (urls.has(iss.issuer)) throw new BrokerConfigError(`issuers[${i}] "${iss.name}"`, `issuer: ${iss.issuer} is listed twice`);
    names.add(iss.name);
    urls.add(iss.issuer);
  });
  const rules = ruleList.map((raw, i) => parseRule(raw, i, names));
  return { issuers, rules };
}

function parseIssuer(raw: unknown, i: number, opts: ParseOptions): IssuerConfig {
  let where = `issuers[${i}]`;
  if (!isObj(raw)) throw new BrokerConfigError(where, 'must be a mapping');
  const name = reqString(raw, 'name', where);
  if (!/^[\w.-]{1,64}$/.test(name)) throw new BrokerConfigError(where, `name: use letters, digits, ".", "_" and "-" (got "${name}")`);
  where = `${where} "${name}"`;
  unknownKeys(raw, ISSUER_KEYS, where);
  // kept exactly as written: it is compared with the tokens' iss, character for character
  const issuer = checkUrl(reqString(raw, 'issuer', where), `${where}: issuer`, opts);
  const audience = stringOrList(raw.audience, `${where}: audience`);
  if (audience.length === 0) throw new BrokerConfigError(where, 'audience: is required (the audience the projected token is minted for, e.g. s3-sidecar-broker)');
  const jwksUri = optString(raw, 'jwksUri', where);
  if (jwksUri) checkUrl(jwksUri, `${where}: jwksUri`, opts);
  return { name, issuer, audience, jwksUri };
}

function parseRule(raw: unknown, i: number, issuerNames: Set<string>): RuleConfig {
  let where = `rules[${i}]`;
  if (!isObj(raw)) throw new BrokerConfigError(where, 'must be a mapping');
  const name = optString(raw, 'name', where) ?? `#${i}`;
  if (raw.name !== undefined) where = `${where} "${name}"`;
  unknownKeys(raw, RULE_KEYS, where);
  const issuer = optString(raw, 'issuer', where);
  if (issuer !== undefined && !issuerNames.has(issuer)) throw new BrokerConfigError(where, `issuer: "${issuer}" is not the name of an entry in issuers`);
  const roleArn = reqString(raw, 'roleArn', where);
  if (!/^arn:[\w-]+:iam::\d*:role\/[\w+=,.@/-]+$/.test(roleArn)) throw new BrokerConfigError(where, `roleArn: must be a role ARN such as arn:aws:iam::123456789012:role/odm (got "${roleArn}")`);
  const input = raw.input === undefined ? [] : stringOrList(raw.input, `${where}: input`);
  const output = optString(raw, 'output', where);
  const readOnly = raw.readOnly ?? false;
  if (typeof readOnly !== 'boolean') throw new BrokerConfigError(where, 'readOnly: must be true or false');
  if (input.length === 0 && !output) throw new BrokerConfigError(where, 'input / output: a rule must scope its credentials to at least one prefix');
  const kmsKeyArn = optString(raw, 'kmsKeyArn', where);
  if (kmsKeyArn !== undefined && !/^arn:[\w-]+:kms:/.test(kmsKeyArn)) throw new BrokerConfigError(where, `kmsKeyArn: must be a KMS key ARN (got "${kmsKeyArn}")`);
  const durationSeconds = raw.durationSeconds ?? 3600;
  if (!Number.isInteger(durationSeconds) || (durationSeconds as number) < MIN_DURATION || (durationSeconds as number) > MAX_DURATION) {
    throw new BrokerConfigError(where, `durationSeconds: must be a whole number from ${MIN_DURATION} to ${MAX_DURATION} (got ${String(durationSeconds)})`);
  }
  const namespace = optString(raw, 'namespace', where);
  const serviceAccount = optString(raw, 'serviceAccount', where);
  const externalId = optString(raw, 'externalId', where);
  const rule: RuleConfig = { name, issuer, namespace, serviceAccount, roleArn, externalId, input, output, readOnly: readOnly as boolean, kmsKeyArn, durationSeconds: durationSeconds as number };
  checkTemplates(rule, where);
  return rule;
}

/** Fill the templates with sample claims and build the policy, so bad URIs fail now, not per request. */
function checkTemplates(rule: RuleConfig, where: string): void {
  const sample: Claims = { issuer: 'cluster-a', sub: 'system:serviceaccount:ns:sa', namespace: 'ns', serviceAccount: 'sa', pod: 'pod-0', podUid: '00000000-0000-0000-0000-000000000000' };
  const fields: [string, string][] = [...rule.input.map((v): [string, string] => ['input', v]), ...(rule.output ? [['output', rule.output] as [string, string]] : [])];
  for (const [field, value] of fields) {
    for (const m of value.matchAll(/\{(\w*)\}?/g)) {
      if (!TEMPLATE_FIELDS.includes(m[1] as keyof Claims) || !m[0].endsWith('}')) throw new BrokerConfigError(where, `${field}: unknown template ${m[0]} in "${value}" (use ${TEMPLATE_FIELDS.map((f) => `{${f}}`).join(' ')})`);
    }
    if (!/^s3:\/\/[^/{}]+\//.test(value)) throw new BrokerConfigError(where, `${field}: must start with s3://<bucket>/ with a fixed bucket name (got "${value}")`);
  }
  try {
    buildSessionPolicy({
      inputPrefixes: rule.input.map((t) => fillTemplate(t, sample)),
      outputPrefix: rule.output ? fillTemplate(rule.output, sample) : undefined,
      readOnly: rule.readOnly,
      kmsKeyArn: rule.kmsKeyArn,
    });
  } catch (err) {
    // session-policy names the sidecar's own flags; here the rule's fields are what to fix
    throw new BrokerConfigError(where, `input / output: ${(err as Error).message.replace(/^--\S+ \/ \S+: /, '')}`);
  }
}

function checkUrl(raw: string, where: string, opts: ParseOptions): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new BrokerConfigError(where, `must be a URL (got "${raw}")`);
  }
  if (u.protocol === 'https:') return raw;
  if (u.protocol === 'http:' && (isLoopbackHost(u.hostname.replace(/^\[|\]$/g, '')) || opts.allowHttpIssuer)) return raw;
  throw new BrokerConfigError(where, `must be https:// (plain http:// only on loopback, or with --allow-http-issuer) (got "${raw}")`);
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function arrayOf(v: unknown, where: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new BrokerConfigError(where, 'must be a list');
  return v;
}

function unknownKeys(o: Obj, known: string[], where: string): void {
  const extra = Object.keys(o).find((k) => !known.includes(k));
  if (extra) throw new BrokerConfigError(where, `${extra}: unknown field (known: ${known.join(', ')})`);
}

function reqString(o: Obj, key: string, where: string): string {
  const v = optString(o, key, where);
  if (v === undefined) throw new BrokerConfigError(where, `${key}: is required`);
  return v;
}

function optString(o: Obj, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.trim() === '') throw new BrokerConfigError(where, `${key}: must be a non-empty string`);
  return v.trim();
}

function stringOrList(v: unknown, where: string): string[] {
  const list = typeof v === 'string' ? [v] : Array.isArray(v) ? v : v === undefined || v === null ? [] : undefined;
  if (!list || list.some((x) => typeof x !== 'string' || x.trim() === '')) throw new BrokerConfigError(where.split(': ')[0]!, `${where.split(': ')[1]}: must be a string or a list of strings`);
  return list.map((x: string) => x.trim());
}

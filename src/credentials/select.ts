// Pick the credential source from the configuration (`auto`: the most specific one configured)
// and build it, with the prefix-scoped session policy for the two STS sources.
// Each source's module is loaded only when picked: loading the STS client is a noticeable part of
// start-up (docs/download.md, "Why the code is as it is"), which a download with static or control-plane credentials should not pay.
import type { Tag } from '@aws-sdk/client-sts';
import { optionName, required, setBy, type Config } from '../config.js';
import { ConfigError } from '../config/define.js';
import { log } from '../log.js';
import { requireSts, storeOf } from '../config/stores.js';
import { buildSessionPolicy } from './session-policy.js';
import type { CredentialSource } from './types.js';

export type SourceName = 'control-plane' | 'web-identity' | 'assume-role' | 'chain' | 'static';

export interface SelectedSource {
  name: SourceName;
  /** why auto picked it (or "--credentials-source") */
  why: string;
  source: CredentialSource;
}

export function pickSourceName(config: Config): { name: SourceName; why: string } {
  if (config.credentialsSource !== 'auto') return { name: config.credentialsSource, why: `${optionName('credentialsSource', config)} is ${config.credentialsSource}` };
  if (config.controlPlaneUrl) return { name: 'control-plane', why: `${optionName('controlPlaneUrl', config)} is set` };
  if (config.roleArn && config.webIdentityTokenFile) return { name: 'web-identity', why: 'a role ARN and a web identity token file are set' };
  if (config.assumeRoleArn) return { name: 'assume-role', why: `${optionName('assumeRoleArn', config)} is set` };
  return { name: 'chain', why: 'no control plane, web identity or role to assume is configured' };
}

export async function selectSource(config: Config): Promise<SelectedSource> {
  const { name, why } = pickSourceName(config);
  const store = storeOf(config);
  log.info({ provider: store.provider, recognised: store.auto, pathStyle: store.pathStyle, checksums: store.checksums, maxParts: store.maxParts }, `S3 store: ${store.label}`);
  if (name === 'web-identity' || name === 'assume-role') {
    // name what the user set: the provider option, or the endpoint variable it was recognised from
    requireSts(store, name, (store.auto ? setBy(config, 'endpointUrl') : setBy(config, 's3Provider')) ?? optionName('s3Provider'));
  }
  log.info({ source: name, why }, `credentials source: ${name}`);
  return { name, why, source: await buildSource(name, config) };
}

async function buildSource(name: SourceName, config: Config): Promise<CredentialSource> {
  switch (name) {
    case 'control-plane': {
      const { fromControlPlane } = await import('./sources/control-plane.js');
      return fromControlPlane({ url: checkedUrl(required(config, 'controlPlaneUrl'), config), tokenFile: config.controlPlaneTokenFile, caFile: config.controlPlaneCaFile, retries: config.stsRetries });
    }
    case 'web-identity': {
      const [{ fromWebIdentity }, { createStsClient, sanitizeSessionName }] = await Promise.all([import('./sources/web-identity.js'), import('./sts.js')]);
      return fromWebIdentity({
        sts: createStsClient(config),
        roleArn: required(config, 'roleArn', 'is required for the web-identity source'),
        tokenFile: required(config, 'webIdentityTokenFile', 'is required for the web-identity source'),
        sessionName: sanitizeSessionName(config.roleSessionName),
        durationSeconds: durationSeconds(config),
        policy: policyFor(name, config),
      });
    }
    case 'assume-role': {
      const [{ fromAssumeRole }, { chainProvider }, { createStsClient, sanitizeSessionName }] =
        await Promise.all([import('./sources/assume-role.js'), import('./sources/chain.js'), import('./sts.js')]);
      return fromAssumeRole({
        sts: createStsClient(config, await chainProvider()),
        roleArn: required(config, 'assumeRoleArn', 'is required for the assume-role source'),
        sessionName: sanitizeSessionName(config.roleSessionName),
        durationSeconds: durationSeconds(config),
        policy: policyFor(name, config),
        externalId: config.externalId,
        tags: sessionTags(config.sessionTags, config),
        sourceIdentity: sourceIdentity(config.sourceIdentity, config),
      });
    }
    case 'chain':
    case 'static': {
      if (config.inputPrefix.length || config.outputPrefix) log.info('the chain source passes no session policy: the credentials carry whatever the chain grants');
      const { fromChain } = await import('./sources/chain.js');
      return fromChain(name);
    }
  }
}

function policyFor(name: SourceName, config: Config): string | undefined {
  if (!config.sessionPolicy) {
    log.warn({ source: name }, 'session policy disabled (--no-session-policy): the credentials carry all of the role\'s permissions');
    return undefined;
  }
  const policy = buildSessionPolicy({
    inputPrefixes: config.inputPrefix, outputPrefix: config.outputPrefix, checkpointPrefix: config.checkpointPrefix, readOnly: config.readOnly, kmsKeyArn: config.kmsKeyArn,
    names: { input: optionName('inputPrefix', config), output: optionName('outputPrefix', config), checkpoint: optionName('checkpointPrefix', config) },
  });
  if (policy) log.info({ policyChars: policy.length, readOnly: config.readOnly, input: config.inputPrefix, output: config.outputPrefix }, 'session policy scoped to the input/output prefixes');
  else log.warn({ source: name }, 'no input/output prefix set: no session policy, the credentials carry all of the role\'s permissions');
  return policy;
}

const MIN_SESSION_S = 900;
const MAX_SESSION_S = 43_200;
function durationSeconds(config: Config): number {
  const s = Math.round(config.sessionDuration / 1000);
  if (s < MIN_SESSION_S || s > MAX_SESSION_S) throw new ConfigError(optionName('sessionDuration', config), `must be between 15m and 12h for STS (got ${s}s)`);
  return s;
}

function sessionTags(items: string[], config: Config): Tag[] {
  return items.map((item) => {
    const i = item.indexOf('=');
    const key = i > 0 ? item.slice(0, i).trim() : '';
    if (!key) throw new ConfigError(optionName('sessionTags', config), `each tag must be key=value (got "${item}")`);
    return { Key: key, Value: item.slice(i + 1).trim() };
  });
}

function sourceIdentity(raw: string | undefined, config: Config): string | undefined {
  if (raw === undefined) return undefined;
  if (!/^[\w+=,.@-]{2,64}$/.test(raw) || raw.toLowerCase().startsWith('aws:')) {
    throw new ConfigError(optionName('sourceIdentity', config), `must be 2-64 characters of letters, digits and +=,.@_- (got "${raw}")`);
  }
  return raw;
}

function checkedUrl(raw: string, config: Config): string {
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
    return raw;
  } catch {
    throw new ConfigError(optionName('controlPlaneUrl', config), `must be an http:// or https:// URL (got "${raw}")`);
  }
}

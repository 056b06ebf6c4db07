// Update one profile section of an AWS credentials/config file and leave every other byte alone.
// Not the `ini` package: its stringify quotes any value containing "=" (every base64 session
// token), and AWS parsers keep those quotes as part of the secret; it also turns dotted profile
// names into nested sections and drops comments. A line editor keeps other profiles exactly.

const HEADER = /^\s*\[\s*([^\]]*?)\s*\]\s*(?:[;#].*)?$/;
const ENTRY = /^\s*([^=\s;#][^=]*?)\s*=/;

/** Section name as written in the file: credentials use `[name]`, config uses `[profile name]` except for default. */
export function sectionName(profile: string, kind: 'credentials' | 'config'): string {
  return kind === 'config' && profile !== 'default' ? `profile ${profile}` : profile;
}

/**
 * Set `values` in `[section]` (undefined removes the key), creating the section at the end
 * if absent. Keys are matched case-insensitively; other keys, comments and sections are kept.
 */
export function upsertSection(text: string, section: string, values: Record<string, string | undefined>): string {
  const lines = text === '' ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/);
  const wanted = new Map(Object.entries(values).map(([k, v]) => [k.toLowerCase(), { key: k, value: v }]));
  const out: string[] = [];
  let inSection = false;
  let found = false;
  const written = new Set<string>();

  const flushMissing = () => {
    // insert missing keys after the section's last non-blank line
    let at = out.length;
    while (at > 0 && out[at - 1]!.trim() === '') at--;
    const add = [...wanted].filter(([k, e]) => !written.has(k) && e.value !== undefined).map(([, e]) => `${e.key} = ${e.value}`);
    out.splice(at, 0, ...add);
    for (const k of wanted.keys()) written.add(k);
  };

  for (const line of lines) {
    const h = HEADER.exec(line);
    if (h) {
      if (inSection) flushMissing();
      inSection = h[1] === section;
      if (inSection) found = true;
      out.push(line);
      continue;
    }
    const m = inSection ? ENTRY.exec(line) : null;
    const k = m?.[1]!.toLowerCase();
    if (k !== undefined && wanted.has(k)) {
      const e = wanted.get(k)!;
      if (!written.has(k) && e.value !== undefined) out.push(`${e.key} = ${e.value}`);
      written.add(k);
      continue;
    }
    out.push(line);
  }
  if (inSection) flushMissing();
  if (!found) {
    if (out.length && out[out.length - 1]!.trim() !== '') out.push('');
    out.push(`[${section}]`);
    for (const { key, value } of wanted.values()) if (value !== undefined) out.push(`${key} = ${value}`);
  }
  return `${out.join('\n')}\n`;
}

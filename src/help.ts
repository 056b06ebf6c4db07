// --help text, generated from the option table so it cannot drift from the parser.
import { MODES, type Mode, optionsFor } from './config.js';

const WIDTH = 34;

export function mainHelp(): string {
  const modes = Object.entries(MODES).map(([m, d]) => `  ${m.padEnd(13)}${d.summary}`).join('\n');
  return `s3-sidecar: short-lived S3 credentials, input prefetch and streamed outputs for long batch jobs

Usage: s3-sidecar <mode> [options]      (every option is also an environment variable)

Modes:
${modes}

Run 's3-sidecar <mode> --help' for the options of a mode.
Exit codes: 0 ok, 1 transfers failed, 2 configuration error, 3 no credentials, 4 stopped with uploads pending.
`;
}

export function modeHelp(mode: Mode): string {
  const lines = optionsFor(mode).map(([, d]) => {
    const flag = `--${d.flag}${d.boolean ? '' : ' <value>'}`;
    const dflt = d.defaultText ? ` [default: ${d.defaultText}]` : '';
    return `  ${flag.padEnd(WIDTH - 1)} ${d.help}${dflt}\n  ${''.padEnd(WIDTH)}env: ${d.env.join(', ')}`;
  });
  return `Usage: s3-sidecar ${mode} [options]\n\n${MODES[mode].summary}\n\nOptions (flag, then the env vars that set it, first one wins):\n${lines.join('\n')}\n`;
}

/**
 * Secrets (bearer tokens, API keys) are registered here the moment they are read, and every
 * teacher error message and log line passes through `redactSecrets`, so a token can never reach
 * SQLite, a log, an export or an error message (issue item 6).
 */
const secrets = new Set<string>();

/** Shorter values would redact ordinary words; no real credential is this short. */
const MIN_SECRET_LENGTH = 4;

export function registerSecret(value: string): void {
  if (value.length >= MIN_SECRET_LENGTH) secrets.add(value);
}

export function redactSecrets(text: string): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('[REDACTED]');
  return out;
}

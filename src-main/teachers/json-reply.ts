/**
 * Reading JSON replies. TF Serving (and some hand-written APIs) write bare NaN / Infinity, which
 * JSON.parse rejects (docs/protocols.md): they are read here as numbers, so that validation can then
 * reject them with a clear message instead of a parse error.
 */
import { TeacherMalformedReplyError } from './errors.ts';

const MARK = '\u0000nonfinite:';

export function parseJsonReply(body: Buffer | string, what = 'teacher reply'): unknown {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    // fall through: maybe bare non-finite numbers
  }
  const patched = quoteBareNonFinite(text);
  try {
    return JSON.parse(patched, (_k, v) =>
      typeof v === 'string' && v.startsWith(MARK) ? Number(v.slice(MARK.length)) : v,
    );
  } catch (err) {
    throw new TeacherMalformedReplyError(`${what} is not valid JSON (${text.length} bytes): ${(err as Error).message}`);
  }
}

/** Replaces NaN, Infinity and -Infinity outside strings by marked strings. */
function quoteBareNonFinite(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const m = /^(-?Infinity|NaN)/.exec(text.slice(i, i + 9));
    if (m) {
      out += JSON.stringify(MARK + m[1]);
      i += m[1].length;
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

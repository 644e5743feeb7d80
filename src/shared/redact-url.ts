/**
 * URLs as a response or an admin field may show them. A configured URL may carry credentials in
 * its userinfo (`http://user:pass@host`) or its query string (`?token=…`): both are dropped; the
 * scheme, host, port and path stay, which is what an operator needs to tell services apart.
 */

/** The URL without userinfo, query string or fragment; undefined stays undefined. */
export function redactUrl(url: string): string;
export function redactUrl(url: string | undefined): string | undefined;
export function redactUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not a URL we can parse: cut what looks like userinfo and everything from '?' or '#'.
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1').replace(/[?#].*$/s, '');
  }
  parsed.username = '';
  parsed.password = '';
  parsed.search = '';
  parsed.hash = '';
  const shown = parsed.toString();
  // new URL adds a '/' path to a bare origin; keep the URL as it was configured.
  const hadPath = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*\//i.test(url);
  return !hadPath && parsed.pathname === '/' ? shown.replace(/\/$/, '') : shown;
}

/** Free text (an error message, a library's detail) with every URL in it redacted. */
export function redactUrlsIn(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (url) => redactUrl(url));
}

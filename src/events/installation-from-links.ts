/**
 * The reference lists no `installation_id` in `app.credentials_rotated` (nor in `app.trial_ended`), yet
 * gives the rotation the install's links, `installation` among them
 * (`.../apps/{app_id}/installations/{installation_id}`). An event without the id is routed by that
 * link instead of refused: refused three times, a rotation is lost with the only copy of its credentials.
 * The id taken is checked by the event's schema like any other.
 */
const ROUTED_BY_LINK: readonly string[] = ['app.credentials_rotated', 'app.trial_ended'];
const INSTALLATION_PATH = /\/installations\/([^/?#]+)\/?$/;

export function withInstallationFromLinks(json: unknown): unknown {
  if (!isObject(json) || typeof json.type !== 'string' || !ROUTED_BY_LINK.includes(json.type)) return json;
  const { data, _links: links } = json;
  // Sent as null: absent as well (nullIsAbsent, fields.ts).
  if (!isObject(data) || (data.installation_id !== undefined && data.installation_id !== null) || !isObject(links)) return json;
  const link = links.installation;
  const href = isObject(link) ? link.href : undefined;
  if (typeof href !== 'string') return json;
  let path: string;
  try {
    path = new URL(href).pathname;
  } catch {
    return json;
  }
  const id = INSTALLATION_PATH.exec(path)?.[1];
  if (!id) return json;
  try {
    return { ...json, data: { ...data, installation_id: decodeURIComponent(id) } };
  } catch {
    return json; // a malformed escape: refused by the schema as an event without its id
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

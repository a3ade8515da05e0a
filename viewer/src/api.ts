/** The page's requests to the `eapgp view` server (see src/viewer-server/protocol.ts). */
import type { PathFile } from '../../src/attribution/path-format.js';
import type { Catalog, NodeGraphResponse, ResultsResponse } from '../../src/viewer-server/protocol.js';

/** GET a JSON resource; a failed request throws an Error carrying the server's message. */
async function getJson<T>(url: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch {
    throw new Error('the eapgp view server does not answer (was it stopped?)');
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(res.ok ? `${url}: the server sent something that is not JSON` : text || `HTTP ${res.status}`);
  }
  if (!res.ok) throw new Error((body as { error?: string }).error ?? `HTTP ${res.status}`);
  return body as T;
}

export const fetchCatalog = (): Promise<Catalog> => getJson('/api/catalog');
export const fetchResults = (id: number): Promise<ResultsResponse> => getJson(`/api/results/${id}`);
export const fetchPath = (id: number): Promise<PathFile> => getJson(`/api/path/${id}`);
export const fetchNodes = (id: number): Promise<NodeGraphResponse> => getJson(`/api/nodes/${id}`);

/** The page's side of the selection worker: graph loading events and promise-based requests. */
import type { DetailsTarget, EdgeDetails, FromWorker, GraphSummary, NodeDetails, SelectParams, SelectionResult, Slot, ToWorker } from './protocol.js';

export interface LoadEvents {
  progress(slot: Slot, id: number, loaded: number, total: number): void;
  loaded(slot: Slot, id: number, summary: GraphSummary): void;
  error(slot: Slot, id: number, message: string): void;
}

export class SelectionClient {
  readonly #worker: Worker;
  #seq = 0;
  readonly #pending = new Map<number, { ok: (v: unknown) => void; fail: (e: Error) => void }>();

  constructor(events: LoadEvents) {
    this.#worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.#worker.onmessage = (ev: MessageEvent<FromWorker>) => {
      const m = ev.data;
      if (m.type === 'progress') events.progress(m.slot, m.id, m.loaded, m.total);
      else if (m.type === 'loaded') events.loaded(m.slot, m.id, m.summary);
      else if (m.type === 'error') events.error(m.slot, m.id, m.message);
      else {
        const p = this.#pending.get(m.seq);
        this.#pending.delete(m.seq);
        if (m.type === 'failed') p?.fail(new Error(m.message));
        else p?.ok(m.type === 'selection' ? m.result : m.details);
      }
    };
    this.#worker.onerror = (ev) => {
      ev.preventDefault();
      for (const p of this.#pending.values()) p.fail(new Error(`the selection worker failed: ${ev.message}`));
      this.#pending.clear();
    };
  }

  #send(m: ToWorker): void {
    this.#worker.postMessage(m);
  }

  #request<T>(make: (seq: number) => ToWorker): Promise<T> {
    const seq = ++this.#seq;
    return new Promise<T>((ok, fail) => {
      this.#pending.set(seq, { ok: ok as (v: unknown) => void, fail });
      this.#send(make(seq));
    });
  }

  /** Loads graph `id` from the server, or from `url` (the graph's binary form, src/graph/binary.ts). */
  load(slot: Slot, id: number, url?: string): void {
    this.#send({ type: 'load', slot, id, url });
  }

  unload(slot: Slot): void {
    this.#send({ type: 'unload', slot });
  }

  select(params: SelectParams): Promise<SelectionResult> {
    return this.#request((seq) => ({ type: 'select', seq, params }));
  }

  details(slot: Slot, target: DetailsTarget, absolute: boolean): Promise<EdgeDetails | NodeDetails | null> {
    return this.#request((seq) => ({ type: 'details', seq, slot, target, absolute }));
  }
}

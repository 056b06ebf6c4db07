// How many sockets a download uses, for the transport's pool.
import type { Config } from '../config.js';

/** Large objects fetched at once: their ranges share the socket budget with whole-object downloads. */
export function bigObjectSlots(c: Pick<Config, 'downloadConcurrency' | 'rangeConcurrency'>): number {
  return Math.max(1, Math.floor(c.downloadConcurrency / c.rangeConcurrency));
}

/** Sockets the download needs: one per whole-object download, plus the ranges of large ones, plus listing. */
export function downloadSockets(c: Pick<Config, 'downloadConcurrency' | 'rangeConcurrency'>): number {
  return c.downloadConcurrency + bigObjectSlots(c) * c.rangeConcurrency + 4;
}

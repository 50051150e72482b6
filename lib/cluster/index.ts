export type { Backplane, BackplaneEvents } from './backplane.js';
export { MemoryBackplane, MemoryBackplaneHub } from './memory.backplane.js';

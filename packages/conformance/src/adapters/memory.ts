/** Built-in factory for `cse-conformance --adapter memory`: a fresh MemoryAdapter per open (not persistent). */
import type { StorageAdapter } from '@cse/core';
import { MemoryAdapter } from '@cse/core';

export function open(): StorageAdapter {
  return new MemoryAdapter();
}

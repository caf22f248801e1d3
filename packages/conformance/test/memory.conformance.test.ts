import { MemoryAdapter } from '@cse/core';
import { runConformance } from '../src/index.js';

runConformance({ name: 'MemoryAdapter', open: () => new MemoryAdapter() });

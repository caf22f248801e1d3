/**
 * The index types of the adapter contract: what an index is declared on and what `find` asks an
 * adapter for. They import nothing, so `adapter.ts` and `indexes.ts` can both use them.
 */

/** One declared index. */
export interface IndexSpec {
  readonly collection: string;
  /** A dotted path of field names, e.g. `status.phase`. */
  readonly field: string;
}

/** A value an index entry can hold. */
export type IndexScalar = null | boolean | number | string;

/** One bound of a range selector. */
export interface IndexBound {
  readonly value: IndexScalar;
  readonly inclusive: boolean;
}

/**
 * One set of index entries. A document is selected when its entry belongs to the set.
 *
 * - `eq`: entries equal to `value` (by `compareJson`: `1` and `1.0` are one value).
 * - `range`: entries of one type (`null`, `boolean`, `number`, `string`) between the bounds,
 *   in `compareJson` order (false < true; numbers by value; strings by code point). A missing
 *   bound is open.
 * - `arrays`: every "array" entry.
 */
export type IndexSelector =
  | { readonly kind: 'eq'; readonly value: IndexScalar }
  | {
      readonly kind: 'range';
      readonly type: 'null' | 'boolean' | 'number' | 'string';
      readonly lower?: IndexBound;
      readonly upper?: IndexBound;
    }
  | { readonly kind: 'arrays' };

/** One condition of a query an index on `field` can answer: the union of `selectors` holds every match. */
export interface IndexProbe {
  readonly field: string;
  readonly selectors: readonly IndexSelector[];
}

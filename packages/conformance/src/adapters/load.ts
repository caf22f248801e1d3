/** Loads an adapter package for a built-in factory, with an install hint when it is missing. */
export async function loadPackage<T>(name: string): Promise<T> {
  // In a page served by Vite (`cse-conformance --browser`) a bare name means nothing to the
  // browser; `/@id/<name>` asks the Vite server to resolve it as it resolves static imports.
  const inPage = typeof (globalThis as { document?: unknown }).document !== 'undefined';
  try {
    return (await import(/* @vite-ignore */ inPage ? `/@id/${name}` : name)) as T;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new Error(`this adapter needs the package ${name}: run npm install ${name}`, { cause: e });
    }
    throw e;
  }
}

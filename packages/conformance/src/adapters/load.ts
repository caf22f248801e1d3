/** Loads an adapter package for a built-in factory, with an install hint when it is missing. */
export async function loadPackage<T>(name: string): Promise<T> {
  try {
    return (await import(/* @vite-ignore */ name)) as T;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new Error(`this adapter needs the package ${name}: run npm install ${name}`, { cause: e });
    }
    throw e;
  }
}

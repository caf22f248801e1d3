// Node has no IndexedDB: fake-indexeddb installs one (and the IDB classes idb needs) as globals.
// The browser project skips this file and uses the real thing.
import 'fake-indexeddb/auto';

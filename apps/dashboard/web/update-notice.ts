/**
 * "Reload to update" (S12): the worker types the Edge cannot serve in this page's schema version
 * (`FrontendSync.updateRequired`). Their machines are paused until the page is reloaded with a
 * release the Edge can serve (or the Edge is updated, when the page is the newer one); the
 * machines of the other worker types stay live. A notice above the table names the types, and
 * each row of such a type is marked (`data-update-required`), with the same button.
 */
import { WORKER_TYPE } from '../shared/machines.js';

const NOTICE_ID = 'update-required';

/** Shows (or hides, for an empty list) the notice and marks the rows of the listed worker types. */
export function showUpdateRequired(types: readonly string[], doc: Document = document): void {
  let notice = doc.getElementById(NOTICE_ID);
  if (types.length === 0) {
    notice?.remove();
    doc.querySelectorAll<HTMLElement>('tr[data-update-required]').forEach((tr) => delete tr.dataset.updateRequired);
    return;
  }
  if (notice === null) {
    notice = doc.createElement('section');
    notice.id = NOTICE_ID;
    notice.className = 'panel note bad';
    notice.setAttribute('role', 'alert');
    const main = doc.querySelector('main') ?? doc.body;
    main.prepend(notice);
  }
  const names = types.join(', ');
  notice.innerHTML = '';
  const text = doc.createElement('span');
  text.textContent = `The Edge runs another schema version of ${names}: those machines are paused in this page (your pending edits wait). `;
  const button = doc.createElement('button');
  button.type = 'button';
  button.textContent = 'Reload to update';
  button.addEventListener('click', () => doc.defaultView?.location.reload());
  notice.append(text, button);
  // Every row of the dashboard is a machine of WORKER_TYPE.
  const paused = types.includes(WORKER_TYPE);
  doc.querySelectorAll<HTMLElement>('tr[data-worker]').forEach((tr) => {
    if (paused) tr.dataset.updateRequired = 'Reload to update';
    else delete tr.dataset.updateRequired;
  });
}

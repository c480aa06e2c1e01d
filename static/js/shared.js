// What the room page and the mediator console share.

/**
 * One state object changed only by named handlers, each for one event: `dispatch(type, payload)`
 * applies one; listeners run once per microtask however many events came.
 */
export function createStore(state, handlers) {
  const listeners = new Set();
  let scheduled = false;

  function dispatch(type, payload = {}) {
    const handler = handlers[type];
    if (!handler) throw new Error(`state: no handler for ${type}`);
    handler(state, payload);
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(() => {
        scheduled = false;
        for (const listener of listeners) listener(state);
      });
    }
  }

  function subscribe(listener) {
    listeners.add(listener);
  }

  return { dispatch, subscribe };
}

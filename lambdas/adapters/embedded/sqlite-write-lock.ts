/**
 * Who may commit next, between the threads of this process that write the database through a
 * group commit (the API's and the delivery thread's, sqlite-group-commit.ts). SQLite lets one
 * writer in at a time and makes the others wait in its busy handler, which sleeps the thread
 * (1 ms, then 2, 5, 10 ...): the event loop would stand still for longer than the commit it
 * waits for takes. With this lock a thread whose turn it is not waits without blocking
 * (Atomics.waitAsync) and commits the moment the other lets go.
 *
 * The lock is one word of shared memory: 0 free, 1 held. It is handed to the delivery thread
 * as its `buffer`.
 */
export class SqliteWriteLock {
  readonly #word: Int32Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)) {
    this.#word = new Int32Array(buffer);
  }

  get buffer(): SharedArrayBuffer {
    return this.#word.buffer as SharedArrayBuffer;
  }

  /** Takes the lock if it is free; never waits. */
  tryAcquire(): boolean {
    return Atomics.compareExchange(this.#word, 0, 0, 1) === 0;
  }

  release(): void {
    Atomics.store(this.#word, 0, 0);
    Atomics.notify(this.#word, 0);
  }

  /** Calls `then` (once) as soon as the lock is seen free, or at once if it already is. */
  whenFree(then: () => void): void {
    const wait = Atomics.waitAsync(this.#word, 0, 1);
    if (wait.async) void wait.value.then(then);
    else setImmediate(then);
  }
}

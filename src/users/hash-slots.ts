import { KamengError } from '../errors.ts';

/** Every hashing slot is taken and the queue is full: answered at once, not queued. */
export class HashingBusyError extends KamengError {
  constructor() {
    super('LOGIN_BUSY', 'too many logins at once; try again in a moment', { retryable: true });
  }
}

/**
 * A small semaphore around password hashing (scrypt, ~50 ms of CPU each): at most `concurrency`
 * hashes at a time and `queue` waiting; beyond that a login is refused at once, so a flood of
 * logins cannot take the CPU from everything else.
 */
export class HashSlots {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly concurrency: number, private readonly queue: number) {}

  /** Waits for a slot (or throws HashingBusyError at once); call the returned function to give it back. */
  async enter(): Promise<() => void> {
    if (this.active >= this.concurrency) {
      if (this.waiting.length >= this.queue) throw new HashingBusyError();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active += 1;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next(); // the slot passes on: active stays the same
      else this.active -= 1;
    };
  }
}

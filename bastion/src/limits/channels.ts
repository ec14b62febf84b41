/** Open channels per connection (`limits.maxChannelsPerConnection`). */
import type { ChannelBudget } from './types.js';

// A class: an object literal with a getter is kept in V8's slow dictionary mode, ~0.5 kB for
// each connection held.
class Budget implements ChannelBudget {
  #open = 0;
  constructor(private readonly max: number) {}
  get open(): number {
    return this.#open;
  }
  tryReserve(): boolean {
    if (this.#open >= this.max) return false;
    this.#open++;
    return true;
  }
  release(): void {
    if (this.#open > 0) this.#open--;
  }
}

export function createChannelBudget(max: number): ChannelBudget {
  return new Budget(max);
}

/** Open channels per connection (`limits.maxChannelsPerConnection`). */
import type { ChannelBudget } from './types.js';

export function createChannelBudget(max: number): ChannelBudget {
  let open = 0;
  return {
    get open() {
      return open;
    },
    tryReserve() {
      if (open >= max) return false;
      open++;
      return true;
    },
    release() {
      if (open > 0) open--;
    },
  };
}

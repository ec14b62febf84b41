/**
 * V8 settings for a process that carries bulk SSH traffic, applied by each program that runs a
 * bastion (its own binary and the all-in-one) before it serves anything.
 *
 * Concurrent ArrayBuffer sweeping is turned off. Every SSH packet is a fresh 32 KiB Buffer, so a
 * bulk transfer allocates a few hundred MB of ArrayBuffer memory per second outside the JS heap.
 * V8 frees a dead young buffer's memory only when a background sweep of that list finishes, and
 * only then subtracts it from its count of external memory. When the platform workers fall
 * behind (a CPU-bound neighbour, or their own marking), the count runs ahead of the memory
 * really held, every new 64 MB of it starts a full mark-compact, and the marking keeps the
 * workers busier still: measured, 590 mark-compacts in three minutes and twice the CPU per GiB,
 * for as long as the process lived. Swept during the scavenge instead, the count stays true (48
 * mark-compacts, nothing lost). docs/benchmarks.md, "A mark-compact storm under bulk transfer".
 */
import v8 from 'node:v8';

export function tuneV8ForBulkTransfer(): void {
  v8.setFlagsFromString('--no-concurrent-array-buffer-sweeping');
}

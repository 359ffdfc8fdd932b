/**
 * Live messages a subscription holds while its replay still reads the list (guarantee 5: only
 * while they will be sent soon). Past MAX_PENDING_BYTES, or while the socket cannot take more,
 * everything held is dropped and `overflowed` says so: the list is then read again before the
 * subscription goes live, so nothing is lost, only re-read.
 */
import { MAX_PENDING_BYTES } from '../limits.js';
import type { ChannelMessage } from './output-frames.js';

export class HeldMessages {
  private messages: ChannelMessage[] = [];
  private bytes = 0;
  /** Messages were dropped (or never kept): the list must be read again before going live. */
  overflowed = false;

  /** Holds `message`; false when it overflowed instead (then nothing is held). */
  hold(message: ChannelMessage, socketCongested: boolean): boolean {
    const bytes = message.bytes.length;
    if (this.bytes + bytes > MAX_PENDING_BYTES || socketCongested) {
      this.clear();
      this.overflowed = true;
      return false;
    }
    this.messages.push(message);
    this.bytes += bytes;
    return true;
  }

  /** Every message held, in order; none are held afterwards. */
  takeAll(): ChannelMessage[] {
    const messages = this.messages;
    this.clear();
    return messages;
  }

  /** The list is about to be read again: forget what was held, and that it overflowed. */
  reset(): void {
    this.clear();
    this.overflowed = false;
  }

  clear(): void {
    this.messages = [];
    this.bytes = 0;
  }
}

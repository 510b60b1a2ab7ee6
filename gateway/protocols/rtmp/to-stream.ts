/**
 * RTMP messages to core frames and tracks (the only place RTMP does it). Video and audio message
 * bodies use the FLV tag body layout, mapped by formats/flv-to-stream.ts (shared with HTTP-FLV pulls).
 */
import type { PublishSession } from '../../core/stream.js';
import { FlvTagsToStream } from '../../formats/flv-to-stream.js';

export class RtmpToStream extends FlvTagsToStream {
  constructor(session: PublishSession) {
    super(session, 'rtmp');
  }
}

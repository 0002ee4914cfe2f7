// @parley/protocol: the wire format Parley's servers and clients share.
export { pb } from './schema.js';
export { ErrorCode, ParleyError, ProtocolError, errorCodeName } from './errors.js';
export {
  DEFAULT_MAX_BODY_BYTES,
  Flags,
  HEADER_SIZE,
  MAX_SEQ,
  PROTOCOL_VERSION,
  type FrameHeader,
  readHeader,
  writeHeader,
} from './header.js';
export type { Frame } from './frame.js';
export { FrameDecoder, type FrameDecoderOptions } from './decoder.js';
export { decodeMessageFrame } from './message-frame.js';
export {
  type BodyCompression,
  type CompressionLevel,
  deflateBody,
  fflateCompression,
  inflateBody,
} from './compression.js';
export {
  Command,
  type CommandName,
  type CommandWith,
  type PushInput,
  type PushOf,
  type RequestInput,
  type RequestOf,
  type ResponseInput,
  type ResponseOf,
  type Role,
  commandName,
  messageTypeFor,
  schema,
} from './commands.js';
export { type CodecOptions, FrameCodec, type Sender, type StatusInput, roleOf } from './codec.js';
export { FRAME_CONTENT_TYPE, SHORT_LINK_COMMANDS, SHORT_LINK_MAX_FRAMES, SHORT_LINK_PATH } from './short-link.js';

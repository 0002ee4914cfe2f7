// Side-effect module: schema.ts imports it before the generated code, because that code reads
// `util.Long` while it loads (the prototype default of every 64-bit field is a Long when the
// `long` package is present). Disabling it afterwards fixes decoded values but leaves unset
// fields reading as `Long { low: 0, high: 0 }` instead of 0.
import protobuf from 'protobufjs/minimal.js';

// 64-bit fields (seq, versions, timestamps) must be plain numbers, as the generated types say
// (all stay below 2^53). protobufjs would otherwise use `Long` whenever the optional `long`
// package is installed.
protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();

// The generated Protocol Buffers code, re-exported under one short name.
// Everything else in Parley refers to messages as `pb.LoginRequest` and so on.
import './plain-longs.js'; // must be evaluated before the generated code: see there
import { parley } from '../gen/parley.js';

export import pb = parley.v1;

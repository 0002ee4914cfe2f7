// The protocol turns protobufjs's optional `long` support off (64-bit fields are plain numbers),
// so the browser bundle leaves the package out.
export default null;

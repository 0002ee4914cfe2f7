// Node-only parts of the SDK: TCP and TLS transports, file storage.
export {};

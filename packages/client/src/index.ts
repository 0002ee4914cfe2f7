// @parley/client: the isomorphic SDK core (no Node built-ins). Node transports: '@parley/client/node'.
export {};

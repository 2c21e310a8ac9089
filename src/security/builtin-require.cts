// A CommonJS module on purpose, as protocol/records/package-require.cts (which this layer may not import): a
// synchronous `require` in both of the package's builds, for node:tls, which only SSL listeners load.
import nodeModule = require('node:module');

export = nodeModule.createRequire(__filename);

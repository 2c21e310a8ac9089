// A CommonJS module on purpose. The codecs load their native and WebAssembly libraries with `require`, on first
// use, from code that compiles to both of the package's builds (ES modules and CommonJS, see
// docs/ARCHITECTURE.md). An ES module gets a `require` from createRequire(import.meta.url), which a CommonJS build
// cannot contain; here __filename serves in either build. It is Node's own `require` (not the one a loader such as
// tsx hands this module, which cannot load native addons), rooted at this file, so it finds the package's
// dependencies.
import nodeModule = require('node:module');

export = nodeModule.createRequire(__filename);

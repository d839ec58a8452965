'use strict';
// The Lambda bundles use this module in place of `undici` (an esbuild alias, set in
// lib/constructs/sqstash-function.ts): what the delivery client imports from undici (Agent,
// request), without the rest of undici's root module (fetch, WebSocket, caches, mocks), about
// 250 kB of the bundle and much of its load time. The paths are relative so that the alias,
// which also rewrites `undici/...`, leaves them alone.
const Agent = require('../../node_modules/undici/lib/dispatcher/agent.js');
const Dispatcher = require('../../node_modules/undici/lib/dispatcher/dispatcher.js');
const api = require('../../node_modules/undici/lib/api/index.js');
const errors = require('../../node_modules/undici/lib/core/errors.js');
const util = require('../../node_modules/undici/lib/core/util.js');

// As undici's root module does: dispatchers get request(), stream() and the rest.
Object.assign(Dispatcher.prototype, api);

/** undici's `request(url, options)`, for callers that always name their dispatcher. */
function request(url, options) {
  const { dispatcher, ...rest } = options ?? {};
  if (!dispatcher) {
    throw new errors.InvalidArgumentError('request() without a dispatcher: pass one (undici-lite)');
  }
  const parsed = util.parseURL(url);
  return dispatcher.request({
    ...rest,
    origin: parsed.origin,
    path: parsed.search ? `${parsed.pathname}${parsed.search}` : parsed.pathname,
    method: rest.method || (rest.body ? 'PUT' : 'GET'),
  });
}

module.exports = { Agent, Dispatcher, errors, request };

"use strict";

/**
 * A member of the cluster: an id unique in the cluster and the address it
 * listens on. Plain JavaScript, as in notp 2.0.1.
 */
class Node {
  constructor(id, host, port) {
    this._id = id;
    this._host = host;
    this._port = port;
  }

  /** Getter/setter: sets only when given a string. */
  id(id) {
    if (typeof id === "string") this._id = id;
    return this._id;
  }

  /** Getter/setter: sets only when given a string. */
  host(host) {
    if (typeof host === "string") this._host = host;
    return this._host;
  }

  /** Getter/setter: sets only when given a number. */
  port(port) {
    if (typeof port === "number") this._port = port;
    return this._port;
  }

  /** Same id, host and port. */
  equals(node) {
    return this._id === node.id() && this._host === node.host() && this._port === node.port();
  }

  /** `{id, host, port}`, a fresh object either way. */
  toJSON(fast) { // eslint-disable-line no-unused-vars
    return { id: this._id, host: this._host, port: this._port };
  }

  static from(data) {
    return new Node(data.id, data.host, data.port);
  }
}

module.exports = Node;

/**
 * QStash's public development credentials (qstash-api.md §8), the defaults of the embedded
 * server so that apps in the official SDK's dev mode (`QSTASH_DEV=true`) adopt it. They are
 * published, so the server refuses them on any interface but loopback.
 */
export const DEV_TOKEN = 'eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=';
export const DEV_CURRENT_SIGNING_KEY = 'sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r';
export const DEV_NEXT_SIGNING_KEY = 'sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs';

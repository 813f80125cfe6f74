// Imported first by main.ts: libuv sizes its thread pool from UV_THREADPOOL_SIZE when the pool
// first starts. A DNS lookup (getaddrinfo) holds a pool thread until the system resolver gives
// up, whatever the run's timeout; with libuv's default of 4 threads, four hostnames that never
// resolve would stall every other tenant's lookups (and response decompression) on this replica.
process.env.UV_THREADPOOL_SIZE ??= '64';

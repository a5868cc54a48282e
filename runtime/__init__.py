"""What the product runs on, below every app: the database backend and the sockets' database threads, the
channel layer, connection limits, the garbage collector's schedule, health, logs, periodic-job plumbing,
requests to companies' own systems and who a request came from. Nothing here imports an app."""

//! Integration tests of the load generator against real receivers on 127.0.0.1.

mod logs;
mod remote_write;

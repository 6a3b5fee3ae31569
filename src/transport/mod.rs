//! Bytes to and from the network, TLS over them, HTTP/2 over TLS.

pub mod h2;
pub mod io;
pub mod pool;
pub mod tls;

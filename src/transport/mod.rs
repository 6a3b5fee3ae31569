//! Bytes to and from the network, TLS over them, HTTP/2 over TLS.

pub mod endpoint;
pub mod h2;
pub mod https;
pub mod io;
pub mod pool;
pub mod tls;
pub mod tls_session;

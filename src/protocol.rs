//! The AVS wire protocol, from the `no_std`, allocation-free `avs-core` crate
//! (`crates/avs-core`): multipart encoding and streaming decoding, the JSON message model, the
//! JSON writer, and each interface's messages.

pub use avs_core::{http1, interfaces, json, jsonw, lwa, message, multipart, time, Overflow};

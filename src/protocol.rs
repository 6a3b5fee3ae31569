//! The AVS wire protocol, from the `no_std`, allocation-free `avs-core` crate
//! (`crates/avs-core`): multipart encoding and streaming decoding, the JSON message model, the
//! JSON writer, and each interface's messages.

pub use avs_core::{interfaces, json, jsonw, message, multipart, time, Overflow};
